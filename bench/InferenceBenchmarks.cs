using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using NativeConv.Layers;
using NativeConv.Layers.Inference;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;

namespace NativeConv.Bench;

/// <summary>
/// Inference: one forward pass of every study model at batch 1 (what `predict` and a web service see), 8 and 128, on the
/// SIMD CPU engine — through the inference path (<see cref="InferenceSession"/>: fused steps, weights prepared once) and,
/// as the baseline it replaces, the training path's forward in eval mode under `Tape.NoGrad` followed by the tape reset.
/// [MemoryDiagnoser] shows the managed bytes a warm call allocates; Images/s is batch / mean. The side-by-side with ONNX
/// Runtime is `alternate-onnxruntime` (bench/AlternateOnnxRuntime.cs).
///
///   dotnet run -c Release --project bench -- --filter '*Inference*'
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InferenceConfig))]
public class InferenceBenchmarks
{
    private sealed class InferenceConfig : ManualConfig
    {
        public InferenceConfig() => AddColumn(new RateColumn("ImagesPerSecond", "Images/s", "Images per second: batch / mean call time",
            0, "N0", (benchmark, stats) => (int)benchmark.Parameters["Batch"] * 1e9 / stats.Mean));
    }

    public static IEnumerable<string> Models => ModelZoo.Names;

    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "";

    [Params(1, 8, 128)]
    public int Batch { get; set; }

    private Module _model = null!;
    private Tensor _x = null!;
    private float[] _images = null!, _logits = null!;
    private InferenceSession _session = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = ModelZoo.Create(Model, seed: 1);
        _model.Eval();
        var rng = new Random(2);
        var shape = ModelZoo.BatchInputShape(Model, Batch);
        var images = new float[shape.Size];
        for (int i = 0; i < images.Length; i++) images[i] = (float)rng.NextDouble();
        _x = Tensor.FromArray(images, shape);
        _images = images;
        _session = InferenceSession.ForZooModel(_model);
        _logits = new float[Batch * _session.Outputs];
        Forward(); // kernels compiled, pools warmed before the measurement
        Session();
    }

    [GlobalCleanup]
    public void Cleanup() => Tape.Current.Reset();

    [Benchmark]
    public float Session()
    {
        _session.Run(_images, Batch, _logits);
        return _logits[0];
    }

    [Benchmark(Baseline = true)]
    public float Forward()
    {
        float first;
        using (Tape.NoGrad())
        {
            first = _model.Forward(_x).Span[0];
        }
        Tape.Current.Reset();
        return first;
    }
}
