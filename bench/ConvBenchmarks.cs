using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Bench;

/// <summary>
/// Conv2D forward, and forward + backward, for every convolution of the study models at batch 128 (3×3, 'same', stride 1):
/// the Fashion-MNIST CNN (1→16 on 28×28, 16→32 on 14×14) and CIFAR-10 CNN(32,64) (3→32 and 32→32 on 32×32, 32→64 and
/// 64→64 on 16×16, 64→128 on 8×8). The backward computes dW and dBias always and dx except for a model's first layer (the
/// image needs no gradient), as in training. GFLOP/s = the layer's multiply-adds ×2 / time; see docs/perf/conv.md.
///
///   dotnet run -c Release --project bench -- --filter '*ConvBenchmarks*'
/// PyTorch on the same layers: bench/peers/conv_peer.py. Algorithm: im2col vs Winograd vs the Auto rule (docs/perf/conv.md).
/// </summary>
[Config(typeof(ConvConfig))]
public class ConvBenchmarks
{
    private const int Batch = 128;

    public static IEnumerable<string> Layers =>
        ["fmnist1 1-16@28", "fmnist2 16-32@14", "cifar1 3-32@32", "cifar2 32-32@32", "cifar3 32-64@16", "cifar4 64-64@16", "cifar5 64-128@8"];

    [ParamsSource(nameof(Layers))]
    public string Layer { get; set; } = "";

    /// <summary>
    /// im2col + GEMM, Winograd F(2×2, 3×3) where the geometry allows it (forward and dx; first layers fall back to im2col),
    /// or Auto (the per-layer rule in Conv2DAlgorithms.PreferWinograd).
    /// </summary>
    [Params(Conv2DAlgorithm.Im2Col, Conv2DAlgorithm.Winograd, Conv2DAlgorithm.Auto)]
    public Conv2DAlgorithm Algorithm { get; set; }

    private Tensor _x = null!, _w = null!, _b = null!, _y = null!, _dy = null!, _dw = null!, _db = null!;
    private Tensor? _dx;
    private ConvGeometry _g;

    [GlobalSetup]
    public void Setup()
    {
        var (c, oc, size) = Parse(Layer);
        _g = ConvGeometry.Create(new Shape(Batch, c, size, size), new Shape(oc, c, 3, 3), 1, 1, Padding.Same);
        var rng = new Random(1);
        _x = Random(_g.InputShape, rng);
        _w = Random(_g.WeightShape, rng);
        _b = Random(new Shape(oc), rng);
        _dy = Random(_g.OutputShape, rng);
        _y = Tensor.Zeros(_g.OutputShape);
        _dw = Tensor.Zeros(_g.WeightShape);
        _db = Tensor.Zeros(new Shape(oc));
        _dx = c > 3 ? Tensor.Zeros(_g.InputShape) : null; // first layers (1 or 3 channels) need no dx
        Console.WriteLine($"// {Layer} {Algorithm}: {GigaFlopsForward(_g):F3} GFLOP forward, {Conv2DForwardKernel.ImagesPerGemm(_g)} images per GEMM, "
            + $"Winograd forward {Conv2DAlgorithms.UseWinograd(_g, Algorithm, false)} ({Winograd3x3.ImagesPerGroup(WinogradProblem.Forward(_g))} images per group), "
            + $"dx {Conv2DAlgorithms.UseWinograd(_g, Algorithm, true)}, {ParallelFor.ThreadCount} threads");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _w, _b, _y, _dy, _dw, _db, _dx }) t?.Dispose();
    }

    // The algorithm is forced per call on the benchmark thread (the switch is read there, before any parallel work).
    [Benchmark]
    public void Forward()
    {
        using var _ = Conv2DAlgorithms.Force(Algorithm);
        CpuBackend.Instance.Conv2DForward(_x, _w, _b, _y, _g);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var _ = Conv2DAlgorithms.Force(Algorithm);
        CpuBackend.Instance.Conv2DForward(_x, _w, _b, _y, _g);
        CpuBackend.Instance.Conv2DBackward(_x, _w, _dy, _dx, _dw, _db, _g);
    }

    /// <summary>Forward GFLOP of a layer: 2·N·OC·OH·OW·C·KH·KW / 1e9.</summary>
    public static double GigaFlopsForward(in ConvGeometry g) => 2.0 * g.N * g.OC * g.OutputPixels * g.PatchSize / 1e9;

    internal static (int C, int OC, int Size) Parse(string layer)
    {
        // "name C-OC@SIZE"
        var spec = layer[(layer.IndexOf(' ') + 1)..];
        int dash = spec.IndexOf('-'), at = spec.IndexOf('@');
        return (int.Parse(spec[..dash]), int.Parse(spec[(dash + 1)..at]), int.Parse(spec[(at + 1)..]));
    }

    /// <summary>GFLOP of one benchmark call: forward, or forward + dW + (dx unless a first layer).</summary>
    internal static double GigaFlops(string method, string layer)
    {
        var (c, oc, size) = Parse(layer);
        var g = ConvGeometry.Create(new Shape(Batch, c, size, size), new Shape(oc, c, 3, 3), 1, 1, Padding.Same);
        double forward = GigaFlopsForward(g);
        return method == nameof(Forward) ? forward : forward * (c > 3 ? 3 : 2);
    }

    private static Tensor Random(Shape shape, Random rng)
    {
        var values = new float[shape.Size];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return Tensor.FromArray(values, shape);
    }
}

/// <summary>GFLOP/s and images/s columns (from the mean) and a job short enough for the big layers.</summary>
public sealed class ConvConfig : ManualConfig
{
    public ConvConfig()
    {
        AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(10));
        AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default);
        AddColumn(
            new RateColumn("ConvGFLOPs", "GFLOP/s", "layer FLOPs / mean time, 10⁹/s", 0, "F1", (c, stats) =>
                ConvBenchmarks.GigaFlops(c.Descriptor.WorkloadMethod.Name, RateColumn.Parameter(c, nameof(ConvBenchmarks.Layer)) as string ?? "") * 1e9 / stats.Mean),
            new RateColumn("ConvImages", "images/s", "batch of 128 / mean time", 1, "F0", (_, stats) => 128 / (stats.Mean / 1e9)));
        AddColumn(StatisticColumn.Min);
    }
}
