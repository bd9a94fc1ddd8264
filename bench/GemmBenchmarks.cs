using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Bench;

/// <summary>
/// SGEMM on square matrices, 1 and all threads. Compare with the OpenBLAS peer (bench/peers/sgemm_peer.c, same shapes)
/// run in the same sitting; docs/perf/gemm.md has the commands and the table.
/// </summary>
[Config(typeof(GemmConfig))]
public class GemmBenchmarks
{
    [Params(256, 512, 1024, 2048)]
    public int N;

    [Params(1, 2)]
    public int Threads;

    private ArraySegment<float> _a, _b, _c;

    [GlobalSetup]
    public void Setup()
    {
        ParallelFor.ThreadCount = Threads;
        _a = GemmShape.Fill(N * N, 1);
        _b = GemmShape.Fill(N * N, 2);
        _c = GemmShape.Aligned(N * N);
    }

    [Benchmark]
    public void Square() => Sgemm.Run(false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);
}

/// <summary>
/// SGEMM on the shapes the study models produce (batch 128): convolution forward per image and per whole batch,
/// weight and input gradients, Dense forward and backward; all transpose combinations occur. 1 and 2 threads.
/// </summary>
[Config(typeof(GemmConfig))]
public class GemmShapeBenchmarks
{
    public static IEnumerable<GemmShape> Shapes() => GemmShape.StudyShapes;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape = null!;

    [Params(1, 2)]
    public int Threads;

    private ArraySegment<float> _a, _b, _c;

    [GlobalSetup]
    public void Setup()
    {
        ParallelFor.ThreadCount = Threads;
        _a = GemmShape.Fill(Shape.M * Shape.K, 1);
        _b = GemmShape.Fill(Shape.K * Shape.N, 2);
        _c = GemmShape.Aligned(Shape.M * Shape.N);
    }

    [Benchmark]
    public void Shaped()
    {
        var s = Shape;
        Sgemm.Run(s.TransposeA, s.TransposeB, s.M, s.N, s.K, 1f, _a, s.Lda, _b, s.Ldb, 0f, _c, s.N);
    }
}

/// <summary>
/// SGEMM through each micro-kernel family this machine runs, forced (Vector512, Vector256, Vector128, scalar), on a square
/// and a thin conv shape, 2 threads: what the Vector128 kernel (ARM64 NEON's source) gives next to the wider ones on one
/// machine. Run it again under DOTNET_EnableAVX2=0 for the Vector128 path as an x64 without AVX2 (and FMA) runs it, and
/// under DOTNET_EnableHWIntrinsic=0 for the scalar baseline. The families are named as strings: the enum is internal.
/// </summary>
[Config(typeof(GemmConfig))]
public class GemmKernelBenchmarks
{
    public static IEnumerable<string> Kinds() =>
        new[] { GemmKernelKind.Vector512, GemmKernelKind.Vector256, GemmKernelKind.Vector128, GemmKernelKind.Scalar }
            .Where(Sgemm.IsSupported).Select(k => k.ToString());

    public static IEnumerable<GemmShape> Shapes() =>
    [
        new("square1024", false, false, 1024, 1024, 1024),
        new("conv-fwd-32x288x8192", false, false, 32, 8192, 288),
    ];

    [ParamsSource(nameof(Kinds))]
    public string Kind = "";

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape = null!;

    private GemmKernelKind _kind;
    private ArraySegment<float> _a, _b, _c;

    [GlobalSetup]
    public void Setup()
    {
        _kind = Enum.Parse<GemmKernelKind>(Kind);
        _a = GemmShape.Fill(Shape.M * Shape.K, 1);
        _b = GemmShape.Fill(Shape.K * Shape.N, 2);
        _c = GemmShape.Aligned(Shape.M * Shape.N);
    }

    [Benchmark]
    public void Forced()
    {
        var s = Shape;
        Sgemm.Run(_kind, 2, s.TransposeA, s.TransposeB, s.M, s.N, s.K, 1f, _a, s.K, _b, s.N, 0f, _c, s.N);
    }
}

/// <summary>One GEMM shape: C (M, N) = op(A) (M, K) · op(B) (K, N). The name says where it comes from.</summary>
public sealed record GemmShape(string Name, bool TransposeA, bool TransposeB, int M, int N, int K)
{
    public double Flops => 2.0 * M * N * K;

    /// <summary>Row strides of A and B as stored (transposed operands are stored (K, M) and (N, K)).</summary>
    public int Lda => TransposeA ? M : K;
    public int Ldb => TransposeB ? K : N;

    /// <summary>How far two float32 results of this shape may differ (rounding grows with √K) and still be the same product.</summary>
    public double AgreementBound => 1e-3 * Math.Sqrt(K);

    /// <summary>The largest |x[i] − y[i]|.</summary>
    public static double MaxAbsDifference(ArraySegment<float> x, ArraySegment<float> y)
    {
        double worst = 0;
        for (int i = 0; i < x.Count; i++) worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
        return worst;
    }

    public override string ToString() => Name;

    // The same list as bench/peers/sgemm_peer.c (keep them in step).
    public static readonly GemmShape[] StudyShapes =
    {
        new("square1024-TN", true, false, 1024, 1024, 1024),
        new("square1024-NT", false, true, 1024, 1024, 1024),
        new("square1024-TT", true, true, 1024, 1024, 1024),
        new("conv-fwd-img-32x27x1024", false, false, 32, 1024, 27),
        new("conv-fwd-img-64x576x1024", false, false, 64, 1024, 576),
        new("conv-fwd-img-128x1152x1024", false, false, 128, 1024, 1152),
        new("conv-fwd-batch-32x27x131072", false, false, 32, 131072, 27),
        new("conv-fwd-batch-32x288x131072", false, false, 32, 131072, 288),
        new("conv-fwd-batch-64x576x32768", false, false, 64, 32768, 576),
        new("conv-wgrad-img-64x576x1024", false, true, 64, 576, 1024),
        new("conv-wgrad-batch-64x576x32768", false, true, 64, 576, 32768),
        new("conv-igrad-img-576x64x1024", true, false, 576, 1024, 64),
        new("conv-igrad-batch-576x64x32768", true, false, 576, 32768, 64),
        new("dense-fwd-128x512x3072", false, false, 128, 512, 3072),
        new("dense-dW-3072x512x128", true, false, 3072, 512, 128),
        new("dense-dX-128x3072x512", false, true, 128, 3072, 512),
        new("dense-fwd-128x256x512", false, false, 128, 256, 512),
        new("dense-fwd-128x10x64", false, false, 128, 10, 64),
    };

    /// <summary>Deterministic values in [-0.5, 0.5) (the peer fills the same way), 64-byte aligned.</summary>
    public static ArraySegment<float> Fill(int length, int seed)
    {
        var values = Aligned(length);
        long mul = seed == 1 ? 7919 : 104729;
        for (int i = 0; i < length; i++) values[i] = (float)(i * mul % 1000) / 1000f - 0.5f;
        return values;
    }

    /// <summary>64-byte-aligned floats, as the engine's tensor storage hands out (the peer uses aligned_alloc).</summary>
    public static unsafe ArraySegment<float> Aligned(int length)
    {
        var array = GC.AllocateArray<float>(length + 16, pinned: true);
        int offset;
        fixed (float* p = array) offset = (int)((64 - ((nint)p & 63)) & 63) / sizeof(float);
        return new ArraySegment<float>(array, offset, length);
    }
}

/// <summary>A GFLOP/s column (2·M·N·K / mean time) and a job short enough for the big shapes.</summary>
public sealed class GemmConfig : ManualConfig
{
    public GemmConfig()
    {
        AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(15));
        // 2·M·N·K / time, over the mean iteration and over the fastest one (a shared machine's fairest number, and what the
        // OpenBLAS peer reports). Statistics are in ns per operation, so flops / ns = GFLOP/s.
        AddColumn(
            new RateColumn("GFLOPs", "GFLOP/s", "2·M·N·K / mean time, in 10⁹ floating-point operations per second", 0, "F1",
                (c, stats) => Flops(c) / stats.Mean),
            new RateColumn("GFLOPsBest", "GFLOP/s (best)", "2·M·N·K / fastest iteration, in 10⁹ floating-point operations per second", 1, "F1",
                (c, stats) => Flops(c) / stats.Min));
        // The shape names are the point of the table: do not truncate them.
        WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40));
    }

    private static double Flops(BenchmarkCase benchmarkCase) =>
        RateColumn.Parameter(benchmarkCase, nameof(GemmShapeBenchmarks.Shape)) is GemmShape shape ? shape.Flops
        : RateColumn.Parameter(benchmarkCase, nameof(GemmBenchmarks.N)) is int n ? 2.0 * n * n * n
        : double.NaN;
}
