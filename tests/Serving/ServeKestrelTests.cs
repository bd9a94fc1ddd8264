using System.Net;
using System.Net.Sockets;
using NativeConv.Experiments.Serving;

namespace NativeConv.Tests.Serving;

/// <summary>The prediction server on real Kestrel at a loopback port: sockets, limits, shutdown, a taken port.</summary>
public sealed class ServeKestrelTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Serves_over_loopback_with_the_same_answers()
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.KestrelAsync(classifier);
        Assert.Equal("127.0.0.1", harness.Server.Address.Host);
        Assert.NotEqual(0, harness.Server.Address.Port);
        Assert.Equal(HttpStatusCode.OK, (await harness.Client.GetAsync("/healthz")).StatusCode);
        byte[] image = ServeImages.Png(21);
        var response = await harness.PostImageAsync(image, "image/png");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        ServeApiTests.AssertPredictions(classifier.Expected(image), classifier.Info.ClassNames, await ServeHarness.JsonAsync(response), top: 4);
    }

    [Fact]
    public async Task Over_the_size_limit_is_413_on_a_socket_too()
    {
        await using var harness = await ServeHarness.KestrelAsync(new ServeTestClassifier(), ServeHarness.Defaults with { MaxBodyBytes = 2000 });
        byte[] large = ServeImages.NoisePng(3, size: 48);
        Assert.True(large.Length > 2000);
        await ServeApiTests.AssertErrorAsync(await harness.PostImageAsync(large, "image/png"), HttpStatusCode.RequestEntityTooLarge, "limit of 2000 bytes");
        Assert.Equal(HttpStatusCode.OK, (await harness.PostImageAsync(ServeImages.Png(3, size: 8), "image/png")).StatusCode);
    }

    [Fact]
    public async Task Shutdown_finishes_in_flight_requests_and_refuses_new_ones()
    {
        var classifier = new ServeTestClassifier();
        var harness = await ServeHarness.KestrelAsync(classifier, ServeHarness.Defaults with { MaxWait = TimeSpan.Zero });
        try
        {
            classifier.Hold();
            byte[] first = ServeImages.Png(31), second = ServeImages.Png(32);
            var running = harness.PostImageAsync(first, "image/png");
            await classifier.WaitForForwardAsync(Wait);        // its forward is running (held)
            var queued = harness.PostImageAsync(second, "image/png");
            await ServeApiTests.WaitUntilAsync(() => harness.Server.Batcher.InServer == 2);
            await Task.Delay(100);                           // ... and the second one waits in the queue

            var stopping = harness.Server.DisposeAsync().AsTask(); // what SIGTERM / Ctrl-C start
            await ServeApiTests.WaitUntilAsync(() => harness.Server.App.Lifetime.ApplicationStopping.IsCancellationRequested);
            await Task.Delay(200);
            Assert.False(stopping.IsCompleted, "the shutdown did not wait for the in-flight requests");

            // New connections are refused while the in-flight requests finish.
            using (var fresh = new HttpClient { BaseAddress = harness.Server.Address, Timeout = TimeSpan.FromSeconds(5) })
                await Assert.ThrowsAnyAsync<HttpRequestException>(() => fresh.GetAsync("/healthz"));

            classifier.Release();
            var answers = await Task.WhenAll(running, queued);
            Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
            ServeApiTests.AssertPredictions(classifier.Expected(first), classifier.Info.ClassNames, await ServeHarness.JsonAsync(answers[0]), top: 4);
            ServeApiTests.AssertPredictions(classifier.Expected(second), classifier.Info.ClassNames, await ServeHarness.JsonAsync(answers[1]), top: 4);
            await stopping.WaitAsync(Wait);
            Assert.Equal(2, harness.Server.Batcher.Classified);
        }
        finally
        {
            classifier.Release();
            await harness.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_port_in_use_fails_to_start_with_an_io_error_naming_the_address()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var server = PredictionServer.Create(new ServeTestClassifier(), ServeHarness.Defaults with { Port = port });
        var e = await Assert.ThrowsAsync<IOException>(() => server.StartAsync());
        Assert.Contains($"127.0.0.1:{port}", e.Message);
    }

    [Fact]
    public void Settings_out_of_range_are_refused_by_name()
    {
        var classifier = new ServeTestClassifier();
        Assert.Contains("--max-batch", Assert.Throws<ArgumentException>(() => PredictionServer.Create(classifier, ServeHarness.Defaults with { MaxBatch = 0 })).Message);
        Assert.Contains("--port", Assert.Throws<ArgumentException>(() => PredictionServer.Create(classifier, ServeHarness.Defaults with { Port = 70000 })).Message);
        Assert.Contains("--timeout-ms", Assert.Throws<ArgumentException>(() => PredictionServer.Create(classifier, ServeHarness.Defaults with { RequestTimeout = TimeSpan.Zero })).Message);
    }
}
