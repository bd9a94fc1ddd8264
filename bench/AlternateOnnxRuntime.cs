using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Bench;

/// <summary>
/// `alternate-onnxruntime`: inference (forward only, eval mode) of a study model, ours against ONNX Runtime's, on the same
/// weights and inputs in one process, alternating every fraction of a second (as `alternate-openblas` does for the GEMM:
/// on a shared machine both drift, and alternating keeps each pair in the same conditions).
///
///   dotnet run -c Release --project bench -- alternate-onnxruntime [--model NAME|all] [--batch B] [--threads T] [--rounds R]
///
/// Our model is built with its seed; its weights go to the PyTorch twin (bench/peers/pytorch_train_step.py), which
/// bench/peers/export_onnx.py exports to ONNX (opset 13, dynamic batch). ONNX Runtime runs it with all graph
/// optimisations, T intra-op threads, sequential execution, pre-allocated input and output. Both must give the same logits
/// (within 1e-4 relative to the largest) before any timing. Then, after a 1 s warm-up of both, each round times ours for
/// 0.4 s, pauses 0.2 s, times ORT for 0.4 s (every other round ORT first); each side reports its median call. Printed per
/// round: images/s of both and the ratio; at the end the median ratio and each side's p50/p99 latency over all calls.
/// Needs python3-torch for /usr/bin/python3 (the export); Microsoft.ML.OnnxRuntime is a bench-only package.
/// </summary>
public static class AlternateOnnxRuntime
{
    public const string Command = "alternate-onnxruntime";


    public static int Run(string[] args)
    {
        string modelArg = "all";
        int batch = 1, threads = 2, rounds = 7, seed = 42;
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--model" when value != null: modelArg = value; i++; break;
                case "--batch" when value != null && int.TryParse(value, out batch) && batch >= 1: i++; break;
                case "--threads" when value != null && int.TryParse(value, out threads) && threads >= 1: i++; break;
                case "--rounds" when value != null && int.TryParse(value, out rounds) && rounds >= 1: i++; break;
                case "--seed" when value != null && int.TryParse(value, out seed): i++; break;
                default:
                    Console.Error.WriteLine($"{Command}: unknown or incomplete option '{args[i]}'. " +
                                            "Options: --model NAME|all, --batch B (≥ 1), --threads T (≥ 1), --rounds R (≥ 1), --seed S.");
                    return 2;
            }
        }
        string[] models = modelArg == "all" ? [.. ModelZoo.Names] : [modelArg]; // every study model, the MLPs included
        foreach (var m in models)
            if (!ModelZoo.Contains(m))
            {
                Console.Error.WriteLine($"{Command}: {ModelZoo.UnknownModelMessage(m)}");
                return 2;
            }
        string? script = FindScript();
        if (script is null)
        {
            Console.Error.WriteLine($"{Command}: bench/peers/export_onnx.py not found above {AppContext.BaseDirectory}; run from the repository.");
            return 2;
        }

        ParallelFor.ThreadCount = threads;
        Console.WriteLine($"cpu: {CpuModel()}; ours: {CpuBackend.SimdDescription}; ONNX Runtime {OrtEnv.Instance().GetVersionString()}; " +
                          $"batch {batch}, {threads} thread(s), {rounds} rounds");
        Console.WriteLine($"{"model",-16} {"ours img/s",11} {"ORT img/s",11} {"ratio",6} {"lowest",7} {"highest",8}   " +
                          $"{"ours p50/p99 ms",16} {"ORT p50/p99 ms",16}");
        foreach (var m in models)
        {
            int status = RunModel(m, batch, threads, rounds, seed, script);
            if (status != 0) return status;
        }
        return 0;
    }

    private static int RunModel(string name, int batch, int threads, int rounds, int seed, string script)
    {
        var model = ModelZoo.Create(name, seed);
        model.Eval();
        string dir = Directory.CreateTempSubdirectory("nativeconv-ort").FullName;
        try
        {
            string onnxPath = Path.Combine(dir, name + ".onnx");
            string? problem = Export(model, name, script, dir, onnxPath);
            if (problem != null)
            {
                Console.Error.WriteLine($"{Command}: {name}: {problem}");
                return 1;
            }

            var inputShape = ModelZoo.BatchInputShape(name, batch);
            var input = new float[inputShape.Size];
            var random = new Random(seed);
            for (int i = 0; i < input.Length; i++) input[i] = random.NextSingle();
            var ours = new float[batch * ModelZoo.Classes];
            var engine = NativeConv.Layers.Inference.InferenceSession.ForZooModel(model);
            var theirs = new float[batch * ModelZoo.Classes];

            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            using var session = new InferenceSession(onnxPath, options);
            long[] inShape = [batch, inputShape[1], inputShape[2], inputShape[3]];
            using var ortInput = OrtValue.CreateTensorValueFromMemory(input, inShape);
            using var ortOutput = OrtValue.CreateTensorValueFromMemory(theirs, [batch, ModelZoo.Classes]);
            using var runOptions = new RunOptions();
            string[] inputNames = ["images"], outputNames = ["logits"];
            OrtValue[] inputs = [ortInput], outputs = [ortOutput];

            void RunOurs() => engine.Run(input, batch, ours);
            void RunTheirs() => session.Run(runOptions, inputNames, inputs, outputNames, outputs);

            // Both must compute the same logits before their speeds mean anything.
            RunOurs();
            RunTheirs();
            double worst = 0, largest = 0;
            for (int i = 0; i < ours.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(ours[i] - theirs[i]));
                largest = Math.Max(largest, Math.Abs(theirs[i]));
            }
            if (!(worst <= 1e-4 * Math.Max(1, largest)))
            {
                Console.Error.WriteLine($"{Command}: {name}: our logits and ONNX Runtime's differ by up to {worst:G3} " +
                                        $"(largest logit {largest:G3}); not timing them.");
                return 1;
            }

            Alternation.WarmUp(RunOurs, RunTheirs, seconds: 1);
            var oursCalls = new List<double>();
            var theirCalls = new List<double>();
            var (oursMedians, theirMedians) = Alternation.Rounds(RunOurs, RunTheirs, rounds, pauseMs: 200, oursCalls, theirCalls);
            var ratios = theirMedians.Zip(oursMedians, (theirs, ours) => theirs / ours).ToArray();
            Array.Sort(ratios);
            Array.Sort(oursMedians);
            Array.Sort(theirMedians);
            oursCalls.Sort();
            theirCalls.Sort();
            Console.WriteLine($"{name,-16} {batch / oursMedians[rounds / 2],11:F0} {batch / theirMedians[rounds / 2],11:F0} " +
                              $"{ratios[rounds / 2],6:F2} {ratios[0],7:F2} {ratios[^1],8:F2}   " +
                              $"{Latency(oursCalls),16} {Latency(theirCalls),16}");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Our parameters, in model order, to W.json + W.bin; the twin exported to ONNX with them. Null, or what failed.</summary>
    private static string? Export(Module model, string name, string script, string dir, string onnxPath)
    {
        var entries = new List<object>();
        long offset = 0;
        using (var bin = File.Create(Path.Combine(dir, "weights.bin")))
        {
            foreach (var p in model.Parameters())
            {
                var values = p.Value.ToArray();
                entries.Add(new { name = p.Name, shape = Enumerable.Range(0, p.Shape.Rank).Select(d => p.Shape[d]).ToArray(), offset });
                bin.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                offset += values.Length;
            }
        }
        string json = Path.Combine(dir, "weights.json");
        File.WriteAllText(json, JsonSerializer.Serialize(entries));

        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { script, "--model", name, "--weights", json, "--out", onnxPath }) start.ArgumentList.Add(a);
        try
        {
            using var python = Process.Start(start)!;
            string stderr = python.StandardError.ReadToEnd();
            python.StandardOutput.ReadToEnd();
            python.WaitForExit();
            if (python.ExitCode != 0)
                return $"the ONNX export failed (exit {python.ExitCode}): {stderr.Trim().Split('\n')[^1]}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"cannot run /usr/bin/python3 for the ONNX export ({e.Message}); on Debian: apt-get install python3-torch.";
        }
        return File.Exists(onnxPath) ? null : "the ONNX export wrote no file.";
    }

    private static string Latency(List<double> sorted) =>
        $"{sorted[sorted.Count / 2] * 1e3:F3}/{sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * 0.99))] * 1e3:F3}";

    private static string? FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "bench", "peers", "export_onnx.py");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static string CpuModel()
    {
        if (!File.Exists("/proc/cpuinfo")) return "unknown";
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"));
        return line?.Split(':', 2)[1].Trim() ?? "unknown";
    }
}
