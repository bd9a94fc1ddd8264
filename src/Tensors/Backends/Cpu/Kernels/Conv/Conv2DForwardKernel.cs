using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// Convolution forward as im2col + GEMM (Caffe style), parallel over groups of images:
///   for a group of B images: col (C·KH·KW, B·OH·OW) = [im2col(x_n) …]; Y (OC, B·OH·OW) = W (OC, C·KH·KW) · col;
///   y_n (OC, OH·OW) = Y's columns of image n, + bias per row.
/// W is the GEMM's A side (M = OC rows, small) and the column matrix its B side, so y comes out in NCHW directly.
/// With B = 1 the GEMM writes y_n in place; B &gt; 1 makes N = B·OH·OW wide enough for small images (8×8) at the cost of
/// one copy of the output. A 1×1, stride-1, unpadded convolution needs no im2col: col = x_n. Which of these (or Winograd)
/// runs, and B, come from the layer's <see cref="ConvPlan"/>.
/// </summary>
public static unsafe class Conv2DForwardKernel
{
    /// <summary>
    /// x (N, C, H, W), w (OC, C·KH·KW), bias (OC) or empty → y (N, OC, OH, OW), overwritten.
    /// <paramref name="imagesPerGemm"/>: 0 follows the cached plan (<see cref="ConvPlan.For"/>); tests and benchmarks
    /// force other values (an uncached plan). <paramref name="algorithm"/>: null takes <see cref="Conv2DAlgorithms.Current"/>.
    /// <paramref name="relu"/>: y = max(conv + bias, 0), applied to each output row right after its bias while it is still
    /// in cache, in the same pass (the fused Conv2D + ReLU; <see cref="Conv2DReluKernels.BiasRelu"/>: bitwise the unfused result).
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, in ConvGeometry g,
        int imagesPerGemm = 0, Conv2DAlgorithm? algorithm = null, bool relu = false)
    {
        var setting = algorithm ?? Conv2DAlgorithms.Current;
        Run(x, w, bias, y, imagesPerGemm > 0 ? ConvPlan.Create(g, setting, imagesPerGemm) : ConvPlan.For(g, setting), relu);
    }

    /// <summary>As above, following <paramref name="plan"/> (its geometry is the call's).</summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, ConvPlan plan,
        bool relu = false)
    {
        var g = plan.Geometry;
        if (x.Length < g.N * g.C * g.H * g.W || w.Length < g.OC * g.PatchSize || y.Length < g.N * g.OC * g.OutputPixels
            || (!bias.IsEmpty && bias.Length < g.OC))
            throw new ArgumentException($"Conv2DForwardKernel: spans x {x.Length}, w {w.Length}, bias {bias.Length}, y {y.Length} are too small for {g}.");
        if (plan.Forward == ConvMethod.Winograd)
        {
            Winograd3x3.Run(x, w, bias, y, WinogradProblem.Forward(g), flipWeights: false, accumulate: false,
                plan.ForwardWinogradImages, relu: relu);
            return;
        }
        if (relu) RunIm2Col<FusedRelu>(x, w, bias, y, plan);
        else RunIm2Col<NoRelu>(x, w, bias, y, plan);
    }

    private static void RunIm2Col<TRelu>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        ConvPlan plan) where TRelu : struct, IReluFusion
    {
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            var body = new Body<TRelu>
            {
                X = px, W = pw, Bias = bias.IsEmpty ? null : pb, Y = py, G = plan.Geometry,
                ImagesPerGroup = plan.Im2ColImagesPerGroup,
            };
            int groups = plan.Im2ColGroups;
            // Fewer groups than threads (small inference batches): run them one after another so each GEMM can use
            // the workers itself (a GEMM inside a parallel body runs single-threaded).
            if (groups >= ParallelFor.ThreadCount) ParallelFor.For(groups, ref body);
            else for (int group = 0; group < groups; group++) body.Execute(group, 0);
        }
    }

    /// <summary>True when the column matrix is the image itself (1×1 kernel, stride 1, no padding).</summary>
    public static bool IsPointwise(in ConvGeometry g) => ConvPlan.IsPointwise(g);

    /// <summary>Images per im2col GEMM (and per backward group) of this geometry's plan on this machine.</summary>
    public static int ImagesPerGemm(in ConvGeometry g) => ConvPlan.For(g, Conv2DAlgorithm.Im2Col).Im2ColImagesPerGroup;

    private struct Body<TRelu> : IParallelBody where TRelu : struct, IReluFusion
    {
        public float* X, W, Bias, Y;
        public ConvGeometry G;
        public int ImagesPerGroup;

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
                Sgemm.Run(false, false, g.OC, pixels, patch, 1f, weights, patch, col, pixels, 0f, output, pixels);
                // Bias (and ReLU) in one pass over each row the GEMM just wrote.
                if (TRelu.Enabled || Bias != null)
                    for (int oc = 0; oc < g.OC; oc++)
                    {
                        var row = output.Slice(oc * pixels, pixels);
                        Epilogue(row, oc, row);
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
            Sgemm.Run(false, false, g.OC, wide, patch, 1f, weights, patch, cols, wide, 0f, result, wide);
            for (int b = 0; b < count; b++)
            {
                var output = new Span<float>(Y + (long)(first + b) * outSize, outSize);
                for (int oc = 0; oc < g.OC; oc++)
                    Epilogue(result.Slice(oc * wide + b * pixels, pixels), oc, output.Slice(oc * pixels, pixels));
            }
        }

        // dst = src + bias (then ReLU when fused); a copy when neither.
        private readonly void Epilogue(ReadOnlySpan<float> src, int oc, Span<float> dst)
        {
            if (TRelu.Enabled) Conv2DReluKernels.BiasRelu(src, Bias == null ? 0f : Bias[oc], dst);
            else if (Bias != null) TensorPrimitives.Add(src, Bias[oc], dst);
            else src.CopyTo(dst);
        }
    }
}
