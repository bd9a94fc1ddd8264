using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Serving;

/// <summary>
/// `serve` through the real command line: startup errors are one line and a non-zero exit; the real program as its own
/// process serves, and SIGTERM stops it gracefully (a request in flight is still answered).
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // `serve` configures the engine (threads)
public sealed partial class ServeCommandTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-serve-" + Guid.NewGuid().ToString("N"));

    public ServeCommandTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A weights file of a fresh seeded fmnist-mlp (small and quick to load).</summary>
    private string Weights()
    {
        string path = Path.Combine(_folder, "weights.safetensors");
        if (!File.Exists(path)) Checkpoint.SaveWeights(path, ModelZoo.Create("fmnist-mlp", seed: 3));
        return path;
    }

    private static void AssertOneLine(string error)
    {
        Assert.StartsWith("error: ", error);
        Assert.Single(error.TrimEnd('\n', '\r').Split('\n'));
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void A_missing_or_damaged_checkpoint_is_one_line_and_exit_1()
    {
        string missing = Path.Combine(_folder, "missing.safetensors");
        var (code, _, error) = Cli.Run("serve", "--checkpoint", missing, "--threads", "1");
        Assert.Equal(1, code);
        AssertOneLine(error);
        Assert.Contains(missing, error);

        string junk = Path.Combine(_folder, "junk.safetensors");
        File.WriteAllText(junk, "not a checkpoint");
        (code, _, error) = Cli.Run("serve", "--checkpoint", junk, "--threads", "1");
        Assert.Equal(1, code);
        AssertOneLine(error);
        Assert.Contains(junk, error);
    }

    [Fact]
    public void A_checkpoint_of_another_model_than_asked_is_one_line_and_exit_1()
    {
        var (code, _, error) = Cli.Run("serve", "--checkpoint", Weights(), "--model", "fmnist-cnn", "--threads", "1");
        Assert.Equal(1, code);
        AssertOneLine(error);
        Assert.Contains("fmnist-mlp", error);
    }

    [Fact]
    public void A_port_in_use_is_one_line_and_exit_1()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var (code, output, error) = Cli.Run("serve", "--checkpoint", Weights(), "--port", port.ToString(), "--threads", "1");
        Assert.Equal(1, code);
        AssertOneLine(error);
        Assert.Contains($"127.0.0.1:{port}", error);
        Assert.Contains("address already in use", error);
        Assert.DoesNotContain("listening", output);
    }

    [Theory]
    [InlineData("--max-batch", "0", "--max-batch")]
    [InlineData("--port", "70000", "--port")]
    [InlineData("--host", "not-an-address", "--host")]
    [InlineData("--max-wait-ms", "5000", "--max-wait-ms")]
    [InlineData("--timeout-ms", "0", "--timeout-ms")]
    [InlineData("--max-body-bytes", "0", "--max-body-bytes")]
    public void A_setting_out_of_range_is_one_line_and_exit_2(string option, string value, string named)
    {
        var (code, _, error) = Cli.Run("serve", "--checkpoint", Weights(), option, value);
        Assert.Equal(2, code);
        AssertOneLine(error);
        Assert.Contains(named, error);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    [GeneratedRegex(@"listening on (http://\S+)")]
    private static partial Regex ListeningLine();

    [Fact]
    public async Task The_program_serves_and_SIGTERM_finishes_the_request_in_flight_before_it_exits()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("SIGTERM is a POSIX signal.");
        using var process = StartProgram("serve", "--checkpoint", Weights(), "--port", "0", "--threads", "1");
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // The address is printed once it listens.
            string? address = null;
            var lines = new List<string>();
            using (var startup = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
                while (address is null && await process.StandardOutput.ReadLineAsync(startup.Token) is { } line)
                {
                    lines.Add(line);
                    if (ListeningLine().Match(line) is { Success: true } m) address = m.Groups[1].Value;
                }
            if (address is null) Assert.Fail("no 'listening on' line: " + string.Join("\n", lines) + await stderr);
            Log("listening at " + address);
            using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) };
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);

            // A request in flight: headers and half the image sent, the rest held back until after the SIGTERM.
            byte[] image = ServeImages.Png(4);
            var body = new HeldBackContent(image, image.Length / 2);
            var inFlight = client.PostAsync("/v1/predict?top=3", body);
            await body.FirstPartSent.WaitAsync(TimeSpan.FromSeconds(30));
            Log("first part sent");
            await Task.Delay(300); // the server has the headers: the request is running

            Assert.Equal(0, kill(process.Id, 15));
            await Task.Delay(500); // the shutdown has begun: no new connections
            using (var fresh = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(5) })
                await Assert.ThrowsAnyAsync<HttpRequestException>(() => fresh.GetAsync("/healthz"));
            Assert.False(process.HasExited, "the program exited with a request in flight");
            Log("refused a new connection; sending the rest");

            body.SendRest();
            var response = await inFlight.WaitAsync(TimeSpan.FromSeconds(60));
            Log("answered " + response.StatusCode);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = await ServeHarness.JsonAsync(response);
            Assert.Equal("fmnist-mlp", answer.GetProperty("model").GetString());
            Assert.Equal(3, answer.GetProperty("predictions").GetArrayLength());

            using (var exit = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
                await process.WaitForExitAsync(exit.Token);
            string rest = await process.StandardOutput.ReadToEndAsync();
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {rest}{await stderr}");
            Assert.Contains("stopped: 1 images in 1 forward passes", rest);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private static Process StartProgram(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "NativeConv.Experiments.dll");
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <summary>A request body sent in two parts: the first at once, the rest when <see cref="SendRest"/> is called.</summary>
    private sealed class HeldBackContent : HttpContent
    {
        private readonly byte[] _bytes;
        private readonly int _first;
        private readonly TaskCompletionSource _firstSent = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HeldBackContent(byte[] bytes, int first)
        {
            _bytes = bytes;
            _first = first;
            Headers.ContentType = new MediaTypeHeaderValue("image/png");
            Headers.ContentLength = bytes.Length;
        }

        public Task FirstPartSent => _firstSent.Task;

        public void SendRest() => _rest.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_bytes.AsMemory(0, _first));
            await stream.FlushAsync();
            _firstSent.TrySetResult();
            await _rest.Task;
            await stream.WriteAsync(_bytes.AsMemory(_first));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}
