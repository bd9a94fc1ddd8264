using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NativeConv.Layers;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Ops;

namespace NativeConv.Bench;

/// <summary>
/// One full training step — forward, softmax cross-entropy, backward, Adam, tape reset — of every study model at batch 128
/// on random data, on the SIMD CPU engine, plus one row per CUDA/OpenCL device when ILGPU finds one (or the device named
/// with --device; the CPU accelerator's emulation is never measured here: a training step there takes minutes).
/// The loss is not read back (as in a training loop that logs only now and then), so a GPU step is one queue of kernels
/// ended by a synchronisation. [MemoryDiagnoser] shows the managed bytes a warm step allocates (0 B for cifar-big on the
/// CPU engine); the Images/s column is 128 / mean.
///
///   dotnet run -c Release --project bench -- --filter '*TrainStep*'
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TrainStepConfig))]
// A step is long (up to seconds on 2 cores): a few iterations give a stable mean. Attributes, not a job of our own, so a
// --job or --inProcess on the command line applies here too.
[WarmupCount(2), IterationCount(6)]
public class TrainStepBenchmarks
{
    public const int Batch = 128;

    /// <summary>Adds the Images/s column.</summary>
    private sealed class TrainStepConfig : ManualConfig
    {
        public TrainStepConfig() => AddColumn(new RateColumn("ImagesPerSecond", "Images/s", $"Training images per second: {Batch} / mean step time", 0, "N0", (_, stats) => Batch * 1e9 / stats.Mean));
    }

    public static IEnumerable<string> Models => ModelZoo.Names;

    public static IEnumerable<string> DeviceIds()
    {
        yield return "cpu";
        foreach (var id in BenchDevices.GpuIds())
            if (!BenchDevices.IsEmulator(id)) yield return id;
    }

    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "";

    [ParamsSource(nameof(DeviceIds))]
    public string Device { get; set; } = "cpu";

    private Module _model = null!;
    private Adam _optimizer = null!;
    private Tensor _x = null!, _labels = null!;
    private IBackend _backend = null!;

    [GlobalSetup]
    public void Setup()
    {
        _backend = BenchDevices.Backend(Device);
        _model = ModelZoo.Create(Model, seed: 1);
        _model.To(_backend); // before the optimiser, which allocates its moments beside the parameters
        _model.Train();
        _optimizer = new Adam(_model.Parameters());
        var rng = new Random(2);
        var images = new float[ModelZoo.BatchInputShape(Model, Batch).Size];
        for (int i = 0; i < images.Length; i++) images[i] = (float)rng.NextDouble();
        var labels = new float[Batch];
        for (int i = 0; i < Batch; i++) labels[i] = rng.Next(ModelZoo.Classes);
        _x = Tensor.FromArray(images, ModelZoo.BatchInputShape(Model, Batch), _backend);
        _labels = Tensor.FromArray(labels, new Shape(Batch), _backend);
        Step(); // kernels compiled, pools and tape warmed before the measurement
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _labels.Dispose();
    }

    [Benchmark]
    public void Step()
    {
        _optimizer.ZeroGrad();
        var logits = _model.Forward(_x);
        var loss = Op.SoftmaxCrossEntropy(logits, _labels);
        loss.Backward();
        _optimizer.Step();
        Tape.Current.Reset();
        _backend.Synchronize();
    }
}
