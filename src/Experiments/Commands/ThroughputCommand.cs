using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NativeConv.Layers;
using NativeConv.Layers.Inference;
using NativeConv.Layers.Init;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Ops;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `throughput --model NAME --batch N --threads T [--device D] [--steps S] [--warmup W] [--seed]`: full training steps (forward,
/// softmax cross-entropy, backward, Adam, tape reset) on random data of the model's input shape; with `--inference`,
/// forward passes only through the model's <see cref="InferenceSession"/>, with the latency of a call (p50, p99). Prints
/// the settings first and ends with exactly one line "images/s: NUMBER".
/// </summary>
public static class ThroughputCommand
{
    public static Command Create(EngineEnvironment engine)
    {
        var command = new Command("throughput", "Training throughput of a study model on random data (images per second).");
        var model = new Option<string>("--model") { Description = $"Model to train: {string.Join(", ", ModelZoo.Names)}", Required = true };
        var steps = new Option<int>("--steps") { Description = "Timed training steps", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first (JIT, pools, caches): at least this many", DefaultValueFactory = _ => 3 };
        // .NET compiles a method quickly first and re-compiles it optimised after ~30 calls (tiered JIT, in the background):
        // timing the first steps of a run measures partly unoptimised code (fmnist-cnn: ~1.5x slower). So warm up by time too.
        var warmupSeconds = new Option<double>("--warmup-seconds") { Description = "...and for at least this many seconds, so the JIT has optimised the hot code (0: steps only)", DefaultValueFactory = _ => 3.0 };
        var profile = new Option<bool>("--profile") { Description = "After the timed steps, profile as many more op by op (forward and backward per op, optimiser; with --inference: step by step) and print where the time goes" };
        var inference = new Option<bool>("--inference") { Description = "Forward passes only (eval mode, the inference path): images per second and the latency of a call (p50, p99); --steps counts calls" };
        command.Add(model);
        command.Add(inference);
        command.Add(steps);
        command.Add(warmup);
        command.Add(warmupSeconds);
        command.Add(profile);
        var common = new CommonOptions(command, engine);
        command.SetAction(result =>
        {
            var output = CommandIo.Out(result);
            string modelName = result.GetValue(model)!;
            if (!ModelZoo.Contains(modelName))
            {
                CommandIo.Error(result).WriteLine(ModelZoo.UnknownModelMessage(modelName));
                return 2;
            }
            int stepCount = result.GetValue(steps), warmupCount = result.GetValue(warmup);
            double warmupTime = result.GetValue(warmupSeconds);
            if (stepCount < 1 || warmupCount < 0 || !(warmupTime >= 0) || warmupTime > 3600)
            {
                CommandIo.Error(result).WriteLine($"--steps must be >= 1, --warmup >= 0 and --warmup-seconds in [0, 3600]; got {stepCount}, {warmupCount} and {warmupTime.ToString(CultureInfo.InvariantCulture)}.");
                return 2;
            }
            bool forwardOnly = result.GetValue(inference);
            var options = common.Read(result).With("model", modelName).With("mode", forwardOnly ? "inference" : "training")
                .With("steps", stepCount).With("warmup", warmupCount).With("warmup-seconds", warmupTime).Apply();
            options.Print(output);
            var warm = new WarmUp(warmupCount, TimeSpan.FromSeconds(warmupTime));
            if (forwardOnly)
            {
                var calls = MeasureInference(modelName, options.Batch, options.Seed, warm, stepCount);
                foreach (var line in calls.Plan) output.WriteLine($"plan: {line}");
                output.WriteLine($"parameters: {calls.Parameters.ToString("N0", CultureInfo.InvariantCulture)}");
                output.WriteLine($"latency ms/call: p50 {calls.P50Milliseconds.ToString("F3", CultureInfo.InvariantCulture)}, p99 {calls.P99Milliseconds.ToString("F3", CultureInfo.InvariantCulture)}, mean {calls.MeanMilliseconds.ToString("F3", CultureInfo.InvariantCulture)}");
                output.WriteLine($"managed bytes allocated/call: {calls.BytesPerCall.ToString("F0", CultureInfo.InvariantCulture)}");
                if (result.GetValue(profile))
                    WriteInferenceProfile(output, ProfileInference(modelName, options.Batch, options.Seed, stepCount), calls.MeanMilliseconds);
                output.WriteLine($"images/s: {FormatRate(calls.ImagesPerSecond)}");
                return 0;
            }
            var measurement = Measure(modelName, options.Batch, options.Seed, warm, stepCount);
            output.WriteLine($"parameters: {measurement.Parameters.ToString("N0", CultureInfo.InvariantCulture)}");
            output.WriteLine($"loss (last step): {measurement.LastLoss.ToString("G6", CultureInfo.InvariantCulture)}");
            output.WriteLine($"ms/step: {measurement.MillisecondsPerStep.ToString("F2", CultureInfo.InvariantCulture)}");
            output.WriteLine($"managed bytes allocated/step: {measurement.BytesPerStep.ToString("F0", CultureInfo.InvariantCulture)}");
            if (result.GetValue(profile))
                StepProfileTable.Write(output, Profile(modelName, options.Batch, options.Seed, warm, stepCount), measurement.MillisecondsPerStep);
            output.WriteLine($"images/s: {FormatRate(measurement.ImagesPerSecond)}");
            return 0;
        });
        return command;
    }

    /// <summary>One decimal, but never "0.0" for a slow device (the emulator, a cold JIT): three significant digits below 1.</summary>
    internal static string FormatRate(double imagesPerSecond) =>
        imagesPerSecond >= 1 ? imagesPerSecond.ToString("F1", CultureInfo.InvariantCulture) : imagesPerSecond.ToString("G3", CultureInfo.InvariantCulture);

    public readonly record struct Measurement(long Parameters, float LastLoss, double MillisecondsPerStep, double ImagesPerSecond, double BytesPerStep);

    /// <summary>
    /// Times <paramref name="steps"/> training steps after <paramref name="warmup"/> untimed ones, on the default backend
    /// (the model, the batch and the optimiser state all live there). The loss is read back only at the last step, so a GPU
    /// queue is never drained mid-run except by the timer's final synchronisation.
    /// </summary>
    public static Measurement Measure(string modelName, int batch, int seed, WarmUp warmup, int steps)
    {
        var backend = Engine.DefaultBackend;
        var model = ModelZoo.Create(modelName, seed);
        model.To(backend); // a no-op when the model was created on it; the optimiser is created after the move
        model.Train();
        var optimizer = new Adam(model.Parameters());
        using var x = RandomImages(ModelZoo.BatchInputShape(modelName, batch), seed, backend);
        using var labels = RandomLabels(batch, ModelZoo.Classes, seed, backend);

        RunWarmUp(warmup, backend, () => TrainStep(model, optimizer, x, labels, readLoss: false));

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps - 1; i++) TrainStep(model, optimizer, x, labels, readLoss: false);
        float loss = TrainStep(model, optimizer, x, labels, readLoss: true); // Item() waits for the device
        backend.Synchronize();
        clock.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        double seconds = clock.Elapsed.TotalSeconds;
        return new Measurement(model.ParameterCount, loss, 1000.0 * seconds / steps, (double)batch * steps / seconds, (double)allocated / steps);
    }

    public readonly record struct InferenceMeasurement(long Parameters, IReadOnlyList<string> Plan, double P50Milliseconds,
        double P99Milliseconds, double MeanMilliseconds, double ImagesPerSecond, double BytesPerCall);

    /// <summary>
    /// Times <paramref name="calls"/> forward passes of a batch through the model's <see cref="InferenceSession"/> after the
    /// warm-up, each call on its own clock (latency percentiles: nearest rank). The images are random in [0, 1).
    /// </summary>
    public static InferenceMeasurement MeasureInference(string modelName, int batch, int seed, WarmUp warmup, int calls)
    {
        var backend = Engine.DefaultBackend;
        var model = ModelZoo.Create(modelName, seed);
        model.To(backend);
        var session = InferenceSession.ForZooModel(model);
        var input = RandomPixels(ModelZoo.BatchInputShape(modelName, batch).Size, seed);
        var logits = new float[batch * session.Outputs];
        RunWarmUp(warmup, backend, () => session.Run(input, batch, logits));

        var times = new double[calls];
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            session.Run(input, batch, logits);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Array.Sort(times);
        double Percentile(double q) => times[Math.Clamp((int)Math.Ceiling(q * calls) - 1, 0, calls - 1)];
        return new InferenceMeasurement(model.ParameterCount, session.Describe(batch), Percentile(0.50), Percentile(0.99),
            1000.0 * seconds / calls, (double)batch * calls / seconds, (double)allocated / calls);
    }

    /// <summary>Per step of the inference program, the mean milliseconds of a call over <paramref name="calls"/> calls.</summary>
    public static IReadOnlyList<(string Step, double Milliseconds)> ProfileInference(string modelName, int batch, int seed, int calls)
    {
        var model = ModelZoo.Create(modelName, seed);
        model.To(Engine.DefaultBackend);
        var session = InferenceSession.ForZooModel(model);
        var input = RandomPixels(ModelZoo.BatchInputShape(modelName, batch).Size, seed);
        return session.Profile(input, batch, calls);
    }

    private static void WriteInferenceProfile(TextWriter output, IReadOnlyList<(string Step, double Milliseconds)> steps, double callMilliseconds)
    {
        double total = 0;
        foreach (var (_, ms) in steps) total += ms;
        output.WriteLine($"profile: ms per call by step (their sum {total.ToString("F3", CultureInfo.InvariantCulture)}; a timed call {callMilliseconds.ToString("F3", CultureInfo.InvariantCulture)})");
        foreach (var (step, ms) in steps)
            output.WriteLine($"  {ms.ToString("F3", CultureInfo.InvariantCulture),9}  {(total > 0 ? 100 * ms / total : 0).ToString("F1", CultureInfo.InvariantCulture),5} %  {step}");
    }

    /// <summary>
    /// Runs one warm-up step and then <paramref name="steps"/> steps with a <see cref="StepProfiler"/> on the tape: every op is
    /// timed forward and backward (the backend synchronised around each), then the optimiser.
    /// </summary>
    public static StepProfiler Profile(string modelName, int batch, int seed, WarmUp warmup, int steps)
    {
        var backend = Engine.DefaultBackend;
        var model = ModelZoo.Create(modelName, seed);
        model.To(backend);
        model.Train();
        var optimizer = new Adam(model.Parameters());
        using var x = RandomImages(ModelZoo.BatchInputShape(modelName, batch), seed, backend);
        using var labels = RandomLabels(batch, ModelZoo.Classes, seed, backend);
        RunWarmUp(warmup with { Steps = Math.Max(1, warmup.Steps) }, backend, () => TrainStep(model, optimizer, x, labels, readLoss: false));

        var profiler = new StepProfiler();
        var tape = Tape.Current;
        tape.Profiler = profiler;
        try
        {
            for (int i = 0; i < steps; i++)
            {
                profiler.BeginStep(backend);
                optimizer.ZeroGrad();
                profiler.Mark("zero grad", backend);
                var logits = model.Forward(x);
                var loss = Op.SoftmaxCrossEntropy(logits, labels);
                loss.Backward();
                profiler.Mark(StepProfiler.AutogradPhase, backend); // consuming the tape after the last node
                optimizer.Step();
                profiler.Mark("optimizer (Adam)", backend);
                tape.Reset();
                profiler.Mark("tape reset", backend);
            }
        }
        finally { tape.Profiler = null; }
        return profiler;
    }

    /// <summary>Untimed steps before a measurement: at least <paramref name="Steps"/> of them and at least <paramref name="Duration"/>.</summary>
    public readonly record struct WarmUp(int Steps, TimeSpan Duration);

    private static void RunWarmUp(WarmUp warmup, IBackend backend, Action step)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < warmup.Steps || clock.Elapsed < warmup.Duration; i++)
        {
            step();
            backend.Synchronize(); // a GPU's queued steps count when they have run, not when they were queued
        }
    }

    /// <summary>One full step; returns the loss when asked (read before the tape frees it), else NaN.</summary>
    private static float TrainStep(Module model, Optimizer optimizer, Tensor x, Tensor labels, bool readLoss)
    {
        optimizer.ZeroGrad();
        var logits = model.Forward(x);
        var loss = Op.SoftmaxCrossEntropy(logits, labels);
        loss.Backward();
        optimizer.Step();
        float value = readLoss ? loss.Item() : float.NaN;
        Tape.Current.Reset();
        return value;
    }

    private static Tensor RandomImages(Shape shape, int seed, IBackend backend) =>
        Tensor.FromArray(RandomPixels(shape.Size, seed), shape, backend);

    private static float[] RandomPixels(int count, int seed)
    {
        var rng = new SplitMix64(SeedMixer.Mix((ulong)(uint)seed, 1));
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextFloat();
        return values;
    }

    private static Tensor RandomLabels(int batch, int classes, int seed, IBackend backend)
    {
        var rng = new SplitMix64(SeedMixer.Mix((ulong)(uint)seed, 2));
        var values = new float[batch];
        for (int i = 0; i < batch; i++) values[i] = rng.NextInt(classes);
        return Tensor.FromArray(values, new Shape(batch), backend);
    }
}
