using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>How the CPU computes a convolution: its forward, its input gradient and its weight gradient.</summary>
public enum Conv2DAlgorithm
{
    /// <summary>Per layer from its shape (<see cref="Conv2DAlgorithms.PreferWinograd"/>).</summary>
    Auto,
    /// <summary>im2col + GEMM (forward), Wᵀ·dY + col2im (dx), dY·colᵀ (dW).</summary>
    Im2Col,
    /// <summary>Winograd F(2×2, 3×3) wherever the geometry allows it (3×3, stride 1, padding 0..2), im2col elsewhere.</summary>
    Winograd,
}

/// <summary>
/// The algorithm switch. Process-wide <see cref="Default"/> (from the environment variable NATIVECONV_CONV_ALGO =
/// auto | im2col | winograd, read once), overridable per calling thread with <see cref="Force"/> (tests, benchmarks: the
/// choice is made on the thread that calls the kernel, before any parallel work).
/// </summary>
public static class Conv2DAlgorithms
{
    public const string EnvironmentVariable = "NATIVECONV_CONV_ALGO";

    public static Conv2DAlgorithm Default { get; set; } = FromEnvironment();

    [ThreadStatic] private static int t_forced; // 0: none; otherwise the algorithm + 1

    /// <summary>The algorithm in force on this thread.</summary>
    public static Conv2DAlgorithm Current => t_forced > 0 ? (Conv2DAlgorithm)(t_forced - 1) : Default;

    /// <summary>Forces an algorithm on this thread until the returned scope is disposed.</summary>
    public static Scope Force(Conv2DAlgorithm algorithm)
    {
        var scope = new Scope(t_forced);
        t_forced = (int)algorithm + 1;
        return scope;
    }

    public readonly struct Scope(int previous) : IDisposable
    {
        public void Dispose() => t_forced = previous;
    }

    /// <summary>
    /// True when a convolution with this geometry runs Winograd under <paramref name="algorithm"/>: its forward and its
    /// weight gradient (inputGradient false; both are products of the forward problem's transforms), or its input gradient.
    /// </summary>
    public static bool UseWinograd(in ConvGeometry g, Conv2DAlgorithm algorithm, bool inputGradient) => algorithm switch
    {
        Conv2DAlgorithm.Im2Col => false,
        Conv2DAlgorithm.Winograd => WinogradProblem.Supports(g),
        _ => WinogradProblem.Supports(g) && PreferWinograd(inputGradient ? WinogradProblem.InputGradient(g) : WinogradProblem.Forward(g)),
    };

    /// <summary>
    /// The Auto rule, per Winograd problem (the forward, or dx as a forward from OC to C channels): Winograd when both its
    /// channel counts are at least <see cref="MinWinogradChannels"/>. The 16 GEMMs save 20·C·OC of 36·C·OC multiply-adds
    /// per tile; the transforms cost about a·C + b·OC per tile, and with K = C = 16 the GEMM is too thin for the saving
    /// to pay for them. Measured, 1 thread, batch 128 (docs/perf/conv.md): every study layer with 32 or more channels on
    /// both sides is faster with Winograd, forward 1.3–1.45×, dx 1.03–1.3×; 16→32 @14 is 5–15% slower, forward and dx.
    /// dW (2 threads): 1.2–1.75× faster on the four CIFAR CNN(32, 64) layers with 32 or more channels.
    /// </summary>
    public static bool PreferWinograd(in WinogradProblem p) => p.C >= MinWinogradChannels && p.OC >= MinWinogradChannels;

    internal const int MinWinogradChannels = 32;

    private static Conv2DAlgorithm FromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(value)) return Conv2DAlgorithm.Auto;
        return value.Trim().ToLowerInvariant() switch
        {
            "auto" => Conv2DAlgorithm.Auto,
            "im2col" => Conv2DAlgorithm.Im2Col,
            "winograd" => Conv2DAlgorithm.Winograd,
            _ => throw new InvalidOperationException(
                $"{EnvironmentVariable}='{value}' is not an algorithm; use auto, im2col or winograd (or leave it unset)."),
        };
    }
}

/// <summary>
/// Convolution forward as im2col + GEMM (Caffe style), parallel over groups of images:
///   for a group of B images: col (C·KH·KW, B·OH·OW) = [im2col(x_n) …]; Y (OC, B·OH·OW) = W (OC, C·KH·KW) · col;
///   y_n (OC, OH·OW) = Y's columns of image n, + bias per row.
/// W is the GEMM's A side (M = OC rows, small) and the column matrix its B side, so y comes out in NCHW directly.
/// With B = 1 the GEMM writes y_n in place; B &gt; 1 makes N = B·OH·OW wide enough for small images (8×8) at the cost of
/// one copy of the output. A 1×1, stride-1, unpadded convolution needs no im2col: col = x_n.
/// </summary>
public static unsafe class Conv2DForwardKernel
{
    /// <summary>
    /// x (N, C, H, W), w (OC, C·KH·KW), bias (OC) or empty → y (N, OC, OH, OW), overwritten.
    /// <paramref name="imagesPerGemm"/>: 0 picks <see cref="ImagesPerGemm"/> (or the Winograd group size); tests and
    /// benchmarks force other values. <paramref name="algorithm"/>: null takes <see cref="Conv2DAlgorithms.Current"/>.
    /// <paramref name="relu"/>: y = max(conv + bias, 0), applied to each output row right after its bias while it is still
    /// in cache, in the same pass (the fused Conv2D + ReLU; <see cref="Conv2DReluKernels.BiasRelu"/>: bitwise the unfused result).
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, in ConvGeometry g,
        int imagesPerGemm = 0, Conv2DAlgorithm? algorithm = null, bool relu = false)
    {
        if (x.Length < g.N * g.C * g.H * g.W || w.Length < g.OC * g.PatchSize || y.Length < g.N * g.OC * g.OutputPixels
            || (!bias.IsEmpty && bias.Length < g.OC))
            throw new ArgumentException($"Conv2DForwardKernel: spans x {x.Length}, w {w.Length}, bias {bias.Length}, y {y.Length} are too small for {g}.");
        if (Conv2DAlgorithms.UseWinograd(g, algorithm ?? Conv2DAlgorithms.Current, inputGradient: false))
        {
            Winograd3x3.Run(x, w, bias, y, WinogradProblem.Forward(g), flipWeights: false, accumulate: false, imagesPerGemm,
                relu: relu);
            return;
        }

        int imagesPerGroup = imagesPerGemm > 0 ? Math.Min(imagesPerGemm, g.N) : ImagesPerGemm(g);
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            var body = new Body
            {
                X = px, W = pw, Bias = bias.IsEmpty ? null : pb, Y = py, G = g,
                ImagesPerGroup = imagesPerGroup, ApplyRelu = relu,
            };
            int groups = (g.N + imagesPerGroup - 1) / imagesPerGroup;
            // Fewer groups than threads (small inference batches): run them one after another so each GEMM can use
            // the workers itself (a GEMM inside a parallel body runs single-threaded).
            if (groups >= ParallelFor.ThreadCount) ParallelFor.For(groups, ref body);
            else for (int group = 0; group < groups; group++) body.Execute(group, 0);
        }
    }

    /// <summary>True when the column matrix is the image itself (1×1 kernel, stride 1, no padding).</summary>
    public static bool IsPointwise(in ConvGeometry g) =>
        g.KH == 1 && g.KW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadTop == 0 && g.PadLeft == 0;

    /// <summary>
    /// Images per GEMM (and per backward group): enough that the GEMM's N = B·OH·OW reaches about
    /// <see cref="TargetColumns"/> (small images: 14×14, 8×8), while the group's column matrix stays within
    /// <see cref="MaxColumnFloats"/> (L2-sized) and the groups still spread over the workers (≥ 4 per thread). Images of
    /// 28×28 or 32×32 stay at one per GEMM. Measured on the study layers: see docs/perf/conv.md.
    /// </summary>
    public static int ImagesPerGemm(in ConvGeometry g)
    {
        if (IsPointwise(g)) return 1; // no im2col copy to amortise; the GEMM reads x_n in place
        int pixels = g.OutputPixels;
        int b = Math.Max(1, TargetColumns / pixels);
        while (b > 1 && (long)g.PatchSize * pixels * b > MaxColumnFloats) b--;
        int maxForParallelism = Math.Max(1, g.N / (4 * ParallelFor.ThreadCount));
        return Math.Min(b, maxForParallelism);
    }

    /// <summary>Target GEMM width (columns) when batching small images.</summary>
    private const int TargetColumns = 1024;

    /// <summary>Cap on a group's column matrix: 160 Ki floats = 640 KiB, so it and the GEMM's packed copy share a 2 MiB L2.</summary>
    private const int MaxColumnFloats = 160 * 1024;

    private struct Body : IParallelBody
    {
        public float* X, W, Bias, Y;
        public ConvGeometry G;
        public int ImagesPerGroup;
        public bool ApplyRelu;

        public void Execute(int group, int worker)
        {
            ref readonly var g = ref G;
            int patch = g.PatchSize, pixels = g.OutputPixels, imageSize = g.C * g.H * g.W, outSize = g.OC * pixels;
            int first = group * ImagesPerGroup, count = Math.Min(ImagesPerGroup, g.N - first);
            var weights = new ReadOnlySpan<float>(W, g.OC * patch);

            if (count == 1)
            {
                var image = new ReadOnlySpan<float>(X + (long)first * imageSize, imageSize);
                var output = new Span<float>(Y + (long)first * outSize, outSize);
                ReadOnlySpan<float> col;
                if (IsPointwise(g)) col = image;
                else
                {
                    var scratch = Conv2DScratch.Columns(patch * pixels);
                    Im2Col.ImageToColumns(image, scratch, pixels, g);
                    col = scratch;
                }
                Gemm.Gemm.Run(false, false, g.OC, pixels, patch, 1f, weights, patch, col, pixels, 0f, output, pixels);
                if (ApplyRelu)
                    for (int oc = 0; oc < g.OC; oc++)
                    {
                        // Bias and ReLU in one pass over the row the GEMM just wrote.
                        var row = output.Slice(oc * pixels, pixels);
                        Conv2DReluKernels.BiasRelu(row, Bias == null ? 0f : Bias[oc], row);
                    }
                else if (Bias != null)
                    for (int oc = 0; oc < g.OC; oc++)
                    {
                        var row = output.Slice(oc * pixels, pixels);
                        TensorPrimitives.Add(row, Bias[oc], row);
                    }
                return;
            }

            // Several images side by side: col (patch, count·pixels), Y (OC, count·pixels), then scatter to NCHW.
            int wide = count * pixels;
            var cols = Conv2DScratch.Columns(patch * wide);
            for (int b = 0; b < count; b++)
                Im2Col.ImageToColumns(new ReadOnlySpan<float>(X + (long)(first + b) * imageSize, imageSize),
                    cols.Slice(b * pixels), wide, g);
            var result = Conv2DScratch.Outputs(g.OC * wide);
            Gemm.Gemm.Run(false, false, g.OC, wide, patch, 1f, weights, patch, cols, wide, 0f, result, wide);
            for (int b = 0; b < count; b++)
            {
                var output = new Span<float>(Y + (long)(first + b) * outSize, outSize);
                for (int oc = 0; oc < g.OC; oc++)
                {
                    var src = result.Slice(oc * wide + b * pixels, pixels);
                    var dst = output.Slice(oc * pixels, pixels);
                    if (ApplyRelu) Conv2DReluKernels.BiasRelu(src, Bias == null ? 0f : Bias[oc], dst);
                    else if (Bias != null) TensorPrimitives.Add(src, Bias[oc], dst);
                    else src.CopyTo(dst);
                }
            }
        }
    }
}
