using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Hosting;
using NativeConv.Experiments.Serving;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `serve --checkpoint PATH [--port 8080] [--host 127.0.0.1] [--max-batch 32] [--max-wait-ms 2] [--timeout-ms 10000]
/// [--max-body-bytes 4194304] [--max-image-pixels N] [--model NAME] [--threads T] [--device D]`: the model of a study's
/// checkpoint as an HTTP service (see <see cref="PredictionServer"/>): POST /v1/predict, GET /v1/model, GET /healthz and a
/// page at /. Runs until SIGTERM or Ctrl-C, then stops gracefully: in-flight requests are answered first. A checkpoint that
/// cannot be served or a port that is taken: one line, exit 1.
/// </summary>
public static class ServeCommand
{
    public static Command Create(EngineEnvironment engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var defaults = new ServeOptions();
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint.safetensors written by a study (or a weights file)", Required = true };
        var expectedModel = new Option<string?>("--model") { Description = "Refuse a checkpoint of any other model" };
        var port = new Option<int>("--port") { Description = "TCP port (0: any free port)", DefaultValueFactory = _ => defaults.Port };
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0 for every interface)", DefaultValueFactory = _ => defaults.Address.ToString() };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most images in one forward pass", DefaultValueFactory = _ => defaults.MaxBatch };
        var maxWait = new Option<double>("--max-wait-ms") { Description = "Longest wait for more requests to fill a batch", DefaultValueFactory = _ => defaults.MaxWait.TotalMilliseconds };
        var timeout = new Option<int>("--timeout-ms") { Description = "A request not answered in this time is cancelled (504)", DefaultValueFactory = _ => (int)defaults.RequestTimeout.TotalMilliseconds };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body (413 above)", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var maxPixels = new Option<long>("--max-image-pixels") { Description = "Largest image decoded, in pixels (400 above)", DefaultValueFactory = _ => defaults.MaxImagePixels };
        var threads = new Option<int>("--threads") { Description = "CPU threads for the kernels (default: all processors)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var device = new Option<string>("--device") { Description = "Where the model runs: cpu, cuda[:N], opencl[:N], ilgpu-cpu, auto", DefaultValueFactory = _ => "cpu" };
        Devices.AddValidation(device);
        var command = new Command("serve", "Serve a trained model over HTTP: POST /v1/predict, GET /v1/model, GET /healthz, a page at /.")
        {
            checkpoint, expectedModel, port, host, maxBatch, maxWait, timeout, maxBody, maxPixels, threads, device,
        };
        command.SetAction(result =>
        {
            var error = CommandIo.Error(result);
            if (!IPAddress.TryParse(result.GetValue(host), out var address))
            {
                error.WriteLine($"error: --host must be an IP address such as 127.0.0.1 or 0.0.0.0 (got '{result.GetValue(host)}').");
                return 2;
            }
            int threadCount = result.GetValue(threads);
            if (threadCount is < 1 or > 256)
            {
                error.WriteLine($"error: --threads must be between 1 and 256; got {threadCount}.");
                return 2;
            }
            double waitMs = result.GetValue(maxWait);
            if (!double.IsFinite(waitMs) || waitMs is < 0 or > 1000)
            {
                error.WriteLine($"error: --max-wait-ms must be 0..1000 (got {waitMs.ToString(CultureInfo.InvariantCulture)}).");
                return 2;
            }
            var options = new ServeOptions
            {
                Address = address,
                Port = result.GetValue(port),
                MaxBatch = result.GetValue(maxBatch),
                MaxWait = TimeSpan.FromMilliseconds(waitMs),
                RequestTimeout = TimeSpan.FromMilliseconds(result.GetValue(timeout)),
                MaxBodyBytes = result.GetValue(maxBody),
                MaxImagePixels = result.GetValue(maxPixels),
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                error.WriteLine($"error: {e.Message}");
                return 2;
            }

            new RunOptions("serve", seed: 0, threadCount, options.MaxBatch, result.GetValue(device) ?? "cpu", engine).Apply();
            var model = TrainedModel.Open(result.GetValue(checkpoint)!, result.GetValue(expectedModel));
            return RunAsync(new TrainedModelClassifier(model, options.MaxImagePixels), model, options, CommandIo.Out(result), error)
                .GetAwaiter().GetResult();
        });
        return command;
    }

    /// <summary>Serves until the host is told to stop (SIGTERM, Ctrl-C), then stops gracefully and prints what it served.</summary>
    private static async Task<int> RunAsync(TrainedModelClassifier classifier, TrainedModel model, ServeOptions options, TextWriter output, TextWriter error)
    {
        // One forward before listening: the first request should not pay for compiling the model's code paths.
        var info = classifier.Info;
        classifier.Classify(new float[info.InputLength], 1, new float[info.ClassCount]);
        var server = PredictionServer.Create(classifier, options, error);
        try
        {
            await server.StartAsync().ConfigureAwait(false);
            string accuracy = info.TestAccuracy is { } a ? $"test accuracy {a.ToString("P2", CultureInfo.InvariantCulture)}" : "no test accuracy recorded";
            output.WriteLine($"serving {info.Name} ({info.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters, {accuracy}) from {model.CheckpointPath}");
            output.WriteLine($"listening on {server.Address} (batches of up to {options.MaxBatch}, waiting at most " +
                             $"{options.MaxWait.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms); Ctrl-C or SIGTERM stops");
            output.Flush();
            await server.App.WaitForShutdownAsync().ConfigureAwait(false);
        }
        finally
        {
            // Graceful: in-flight requests are answered, the batcher drains, then the host is released.
            await server.DisposeAsync().ConfigureAwait(false);
        }
        output.WriteLine($"stopped: {server.Batcher.Classified.ToString(CultureInfo.InvariantCulture)} images in " +
                         $"{server.Batcher.Forwards.ToString(CultureInfo.InvariantCulture)} forward passes");
        output.Flush();
        return 0;
    }
}
