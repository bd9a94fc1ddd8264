using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using SkiaSharp;

namespace NativeConv.Bench;

/// <summary>
/// `serve-load`: a load test of the prediction server (`serve`) on loopback: requests/s and p50/p99 latency at 1, 8 and 64
/// concurrent clients (closed loop: each client sends its next request when its answer arrives), bounded in requests and
/// time per level.
///
///   dotnet run -c Release --project bench -- serve-load [--checkpoint PATH | --model NAME [--seed S]] [--clients 1,8,64]
///       [--seconds 3] [--requests 3000] [--max-batch 32] [--max-wait-ms 2] [--threads T]
///
/// Without --checkpoint the model is a fresh seeded one (its weights written to a temporary weights file and read back by
/// the real loader), so nothing is trained: latency and throughput do not depend on the weights. Every request posts the
/// same PNG of the model's input size (a seeded pattern) as a raw image/png body. The server runs in this process on
/// 127.0.0.1 and a free port, with the same code as `serve`; clients and server share the machine's cores, so the figures
/// are for the whole loop on this machine, not for the server alone. Printed per level: requests, requests/s, p50/p99/max
/// latency (client side, ms), the mean batch the micro-batcher formed, and errors; before them, one forward of batch 1
/// and of the largest batch called directly, for scale.
/// </summary>
public static class ServeLoad
{
    public const string Command = "serve-load";

    public static int Run(string[] args)
    {
        string? checkpoint = null;
        string model = "fmnist-cnn";
        int seed = 1, requests = 3000, maxBatch = 32, threads = Environment.ProcessorCount;
        double seconds = 3, maxWaitMs = 2;
        int[] clients = [1, 8, 64];
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--checkpoint" when value != null: checkpoint = value; i++; break;
                case "--model" when value != null: model = value; i++; break;
                case "--seed" when value != null && int.TryParse(value, out seed): i++; break;
                case "--requests" when value != null && int.TryParse(value, out requests) && requests >= 1: i++; break;
                case "--seconds" when value != null && double.TryParse(value, CultureInfo.InvariantCulture, out seconds) && seconds is > 0 and <= 600: i++; break;
                case "--max-batch" when value != null && int.TryParse(value, out maxBatch) && maxBatch >= 1: i++; break;
                case "--max-wait-ms" when value != null && double.TryParse(value, CultureInfo.InvariantCulture, out maxWaitMs) && maxWaitMs is >= 0 and <= 1000: i++; break;
                case "--threads" when value != null && int.TryParse(value, out threads) && threads >= 1: i++; break;
                case "--clients" when value != null && TryParseList(value, out clients): i++; break;
                default:
                    Console.Error.WriteLine($"{Command}: unknown or incomplete option '{args[i]}'. Options: --checkpoint PATH | --model NAME [--seed S], " +
                                            "--clients 1,8,64, --seconds S (0..600], --requests N (≥ 1, per level), --max-batch N, --max-wait-ms MS, --threads T.");
                    return 2;
            }
        }
        if (checkpoint is null && !ModelZoo.Contains(model))
        {
            Console.Error.WriteLine($"{Command}: {ModelZoo.UnknownModelMessage(model)}");
            return 2;
        }

        ParallelFor.ThreadCount = threads;
        string? temporary = null;
        try
        {
            if (checkpoint is null)
            {
                temporary = Path.Combine(Path.GetTempPath(), $"nativeconv-serve-load-{Environment.ProcessId}.safetensors");
                Checkpoint.SaveWeights(temporary, ModelZoo.Create(model, seed));
            }
            var trained = TrainedModel.Open(checkpoint ?? temporary!);
            return RunAsync(trained, checkpoint is null ? $"fresh weights, seed {seed}" : trained.CheckpointPath, clients, seconds, requests,
                new ServeOptions { Port = 0, MaxBatch = maxBatch, MaxWait = TimeSpan.FromMilliseconds(maxWaitMs), QueueCapacity = 4096 },
                threads).GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"{Command}: {e.Message}");
            return 1;
        }
        finally
        {
            if (temporary is not null) File.Delete(temporary);
        }
    }

    private static async Task<int> RunAsync(TrainedModel trained, string weights, int[] levels, double seconds, int requestsPerLevel,
        ServeOptions options, int threads)
    {
        var classifier = new TrainedModelClassifier(trained);
        byte[] image = Png(trained.InputShape, seed: 7);
        Console.WriteLine($"cpu: {CpuModel()}; {CpuBackend.SimdDescription}; {threads} kernel thread(s); {Environment.ProcessorCount} cores shared by clients and server");
        Console.WriteLine($"model: {trained.Name} ({trained.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters; {weights}); " +
                          $"image: {image.Length} bytes of PNG, {trained.InputShape.W}×{trained.InputShape.H}");
        Console.WriteLine($"server: batches of up to {options.MaxBatch}, waiting at most {options.MaxWait.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms; " +
                          $"each level: at most {requestsPerLevel} requests or {seconds.ToString(CultureInfo.InvariantCulture)} s, after a warm-up");
        Console.WriteLine($"one forward, called directly: batch 1 {ForwardMs(classifier, image, 1):F2} ms, batch {options.MaxBatch} {ForwardMs(classifier, image, options.MaxBatch):F2} ms");

        await using var server = PredictionServer.Create(classifier, options);
        await server.StartAsync();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1024, UseProxy = false };
        using var client = new HttpClient(handler) { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };

        Console.WriteLine();
        Console.WriteLine($"{"clients",7} {"requests",9} {"req/s",9} {"p50 ms",8} {"p99 ms",8} {"max ms",8} {"mean batch",11} {"errors",7}");
        foreach (int level in levels)
        {
            // Warm-up: the connections are opened and the JIT has seen every path before the clock starts.
            await Level(client, image, level, TimeSpan.FromSeconds(Math.Min(1, seconds)), Math.Max(level * 4, 20));
            long forwards = server.Batcher.Forwards, classified = server.Batcher.Classified;
            var result = await Level(client, image, level, TimeSpan.FromSeconds(seconds), requestsPerLevel);
            double meanBatch = (double)(server.Batcher.Classified - classified) / Math.Max(1, server.Batcher.Forwards - forwards);
            var latencies = result.Latencies;
            latencies.Sort();
            Console.WriteLine($"{level,7} {latencies.Count,9} {latencies.Count / result.Elapsed.TotalSeconds,9:F1} {Percentile(latencies, 0.50),8:F2} " +
                              $"{Percentile(latencies, 0.99),8:F2} {(latencies.Count > 0 ? latencies[^1] : double.NaN),8:F2} {meanBatch,11:F2} {result.Errors,7}");
        }
        return 0;
    }

    private sealed record LevelResult(List<double> Latencies, TimeSpan Elapsed, int Errors);

    /// <summary><paramref name="clients"/> closed-loop clients until <paramref name="limit"/> passed or <paramref name="requests"/> were sent.</summary>
    private static async Task<LevelResult> Level(HttpClient client, byte[] image, int clients, TimeSpan limit, int requests)
    {
        var latencies = new List<double>[clients];
        int sent = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        var tasks = new Task[clients];
        for (int c = 0; c < clients; c++)
        {
            var own = latencies[c] = new List<double>();
            tasks[c] = Task.Run(async () =>
            {
                while (clock.Elapsed < limit && Interlocked.Increment(ref sent) <= requests)
                {
                    long started = Stopwatch.GetTimestamp();
                    var content = new ByteArrayContent(image);
                    content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
                    try
                    {
                        using var response = await client.PostAsync("/v1/predict?top=3", content);
                        await response.Content.ReadAsByteArrayAsync();
                        if (response.StatusCode != HttpStatusCode.OK) { Interlocked.Increment(ref errors); continue; }
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }
                    own.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            });
        }
        await Task.WhenAll(tasks);
        var all = new List<double>();
        foreach (var own in latencies) all.AddRange(own);
        return new LevelResult(all, clock.Elapsed, errors);
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    /// <summary>The median of 20 direct forwards of <paramref name="batch"/> copies of the image, after 3 untimed ones.</summary>
    private static double ForwardMs(TrainedModelClassifier classifier, byte[] image, int batch)
    {
        var info = classifier.Info;
        var sample = new float[info.InputLength];
        classifier.Decode(image, "bench", sample);
        var samples = new float[batch * sample.Length];
        for (int i = 0; i < batch; i++) sample.CopyTo(samples, i * sample.Length);
        var probabilities = new float[batch * info.ClassCount];
        var times = new double[20];
        for (int i = -3; i < times.Length; i++)
        {
            long started = Stopwatch.GetTimestamp();
            classifier.Classify(samples, batch, probabilities);
            if (i >= 0) times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }

    /// <summary>A seeded pattern of the model's input size as PNG (grey for 1 channel, colour for 3).</summary>
    private static byte[] Png((int C, int H, int W) shape, int seed)
    {
        var rng = new Random(seed);
        using var bitmap = new SKBitmap(new SKImageInfo(shape.W, shape.H, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < shape.H; y++)
            for (int x = 0; x < shape.W; x++)
            {
                byte v = (byte)rng.Next(256);
                bitmap.SetPixel(x, y, shape.C == 1 ? new SKColor(v, v, v) : new SKColor(v, (byte)rng.Next(256), (byte)rng.Next(256)));
            }
        return bitmap.Encode(SKEncodedImageFormat.Png, 100).ToArray();
    }

    private static bool TryParseList(string text, out int[] values)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] < 1 || values[i] > 4096) return false;
        return parts.Length > 0;
    }

    private static string CpuModel()
    {
        if (!File.Exists("/proc/cpuinfo")) return "unknown";
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?.Split(':', 2)[1].Trim() ?? "unknown";
    }
}
