using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// Convolution forward as im2col + GEMM (Caffe style), parallel over groups of images (or, as its plan says, Winograd or
/// the direct forward of <see cref="DirectConvForward"/>):
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
        CheckSpans(x, w, bias, y, g, g.N * g.OC * g.OutputPixels);
        if (plan.Forward == ConvMethod.Winograd)
        {
            Winograd3x3.Run(x, w, bias, y, WinogradProblem.Forward(g), flipWeights: false, accumulate: false,
                plan.ForwardWinogradImages, relu: relu);
            return;
        }
        if (plan.Forward == ConvMethod.Direct)
        {
            RunDirect(x, w, bias, y, plan, relu, pool: null, VectorWidth.Auto);
            return;
        }
        if (relu) RunIm2Col<FusedRelu, NoPool>(x, w, bias, y, plan, default);
        else RunIm2Col<NoRelu, NoPool>(x, w, bias, y, plan, default);
    }

    /// <summary>
    /// The forward of an inference step: as <see cref="Run(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ConvPlan, bool)"/>,
    /// with the weights prepared for the plan's method once per weight version (<paramref name="weights"/>) and, when
    /// <paramref name="pool"/> is given (its N and C are 1: one output plane), a max-pool fused into the epilogue: y is
    /// then the pooled (N, OC, pool.OH, pool.OW). Bitwise the unfused convolution + ReLU + max-pool (bias and ReLU are
    /// monotone, so they commute with the max).
    /// </summary>
    /// <param name="width">The direct forward's vector width (tests force each; Auto: the widest).</param>
    public static void RunInference(ReadOnlySpan<float> x, ConvInferenceWeights weights, ReadOnlySpan<float> bias, Span<float> y,
        ConvPlan plan, bool relu, PoolGeometry? pool, VectorWidth width = VectorWidth.Auto)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var g = plan.Geometry;
        if (pool is { } pg && (pg.N != 1 || pg.C != 1 || pg.H != g.OH || pg.W != g.OW))
            throw new ArgumentException($"Conv2DForwardKernel: the fused pool {pg} must be one {g.OH}×{g.OW} output plane (N = C = 1).");
        int outputPlane = pool is { } p ? p.OH * p.OW : g.OutputPixels;
        if (x.Length < g.N * g.C * g.H * g.W || y.Length < g.N * g.OC * outputPlane || (!bias.IsEmpty && bias.Length < g.OC))
            throw new ArgumentException($"Conv2DForwardKernel: spans x {x.Length}, bias {bias.Length}, y {y.Length} do not fit {g}.");
        bool winograd = plan.Forward == ConvMethod.Winograd, direct = plan.Forward == ConvMethod.Direct;
        bool prepared = winograd ? weights.Winograd?.Length >= 16 * g.OC * g.C
            : direct || g.PatchSize <= SmallPatchGemm.MaxPatch ? weights.Weights?.Length == g.OC * g.PatchSize
            : weights.Im2Col is { } packed && packed.M == g.OC && packed.K == g.PatchSize;
        if (!prepared)
            throw new ArgumentException($"Conv2DForwardKernel: the plan runs {plan.Forward} but the weights of {g} were not prepared for it.");
        if (winograd)
        {
            bool tilePool = pool is { KH: 2, KW: 2, StrideH: 2, StrideW: 2 } && (g.OH & 1) == 0 && (g.OW & 1) == 0;
            if (pool is not null && !tilePool)
                throw new ArgumentException($"Conv2DForwardKernel: a Winograd forward fuses only a 2×2, stride-2 pool of an even output; got {pool}.");
            Winograd3x3.RunTransformed(x, weights.Winograd!, bias, y, WinogradProblem.Forward(g), plan.ForwardWinogradImages, relu,
                tilePool, packedU: weights.WinogradPanels);
            return;
        }
        var poolPlane = pool ?? default;
        if (direct)
        {
            RunDirect(x, weights.Weights, bias, y, plan, relu, pool, width);
            return;
        }
        // A short patch reads W as given; a longer one the packed W (the Body takes whichever is there).
        ReadOnlySpan<float> w = weights.Weights;
        var packedW = weights.Im2Col;
        if (relu && pool is not null) RunIm2Col<FusedRelu, FusedPool>(x, w, bias, y, plan, poolPlane, packedW);
        else if (relu) RunIm2Col<FusedRelu, NoPool>(x, w, bias, y, plan, poolPlane, packedW);
        else if (pool is not null) RunIm2Col<NoRelu, FusedPool>(x, w, bias, y, plan, poolPlane, packedW);
        else RunIm2Col<NoRelu, NoPool>(x, w, bias, y, plan, poolPlane, packedW);
    }

    // The direct forward with W as given, its ReLU and pool fusion as type parameters.
    private static void RunDirect(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, ConvPlan plan,
        bool relu, PoolGeometry? pool, VectorWidth width)
    {
        var poolPlane = pool ?? default;
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            float* b = bias.IsEmpty ? null : pb;
            if (relu && pool is not null) DirectConvForward.Run<FusedRelu, FusedPool>(px, pw, b, py, plan, poolPlane, width);
            else if (relu) DirectConvForward.Run<FusedRelu, NoPool>(px, pw, b, py, plan, poolPlane, width);
            else if (pool is not null) DirectConvForward.Run<NoRelu, FusedPool>(px, pw, b, py, plan, poolPlane, width);
            else DirectConvForward.Run<NoRelu, NoPool>(px, pw, b, py, plan, poolPlane, width);
        }
    }

    private static void CheckSpans(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        in ConvGeometry g, long outputFloats)
    {
        if (x.Length < g.N * g.C * g.H * g.W || w.Length < g.OC * g.PatchSize || y.Length < outputFloats
            || (!bias.IsEmpty && bias.Length < g.OC))
            throw new ArgumentException($"Conv2DForwardKernel: spans x {x.Length}, w {w.Length}, bias {bias.Length}, y {y.Length} are too small for {g}.");
    }

    private static void RunIm2Col<TRelu, TPool>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        ConvPlan plan, PoolGeometry pool, Sgemm.PackedMatrix? packedWeights = null) where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            var body = new Body<TRelu, TPool>
            {
                X = px, W = pw, Bias = bias.IsEmpty ? null : pb, Y = py, G = plan.Geometry,
                ImagesPerGroup = plan.Im2ColImagesPerGroup, Pool = pool, PackedWeights = packedWeights,
            };
            int groups = plan.Im2ColGroups;
            // Fewer groups than threads (small inference batches): the threads share each image in bands of output rows,
            // or share each group — its im2col by channel, its GEMM, its epilogue by output channel — so a single image
            // still uses every core; a small group runs here.
            if (ParallelFor.InsideParallel || (!plan.ForwardSplitsGroups && plan.ForwardRowBands == 0))
                ParallelFor.For(groups, ref body);
            else if (plan.ForwardRowBands > 0)
            {
                var bands = new RowBands<TRelu, TPool> { Body = body, Rows = TPool.Enabled ? pool.OH : plan.Geometry.OH };
                bands.RowsPerBand = (bands.Rows + plan.ForwardRowBands - 1) / plan.ForwardRowBands;
                int count = (bands.Rows + bands.RowsPerBand - 1) / bands.RowsPerBand;
                for (bands.Image = 0; bands.Image < plan.Geometry.N; bands.Image++) ParallelFor.For(count, ref bands);
            }
            else for (int group = 0; group < groups; group++) body.SplitGroup(group);
        }
    }

    /// <summary>True when the column matrix is the image itself (1×1 kernel, stride 1, no padding).</summary>
    public static bool IsPointwise(in ConvGeometry g) => ConvPlan.IsPointwise(g);

    /// <summary>Images per im2col GEMM (and per backward group) of this geometry's plan on this machine.</summary>
    public static int ImagesPerGemm(in ConvGeometry g) => ConvPlan.For(g, Conv2DAlgorithm.Im2Col).Im2ColImagesPerGroup;

    private struct Body<TRelu, TPool> : IParallelBody where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        public float* X, W, Bias, Y;
        public ConvGeometry G;
        public int ImagesPerGroup;
        /// <summary>The fused pool of one output plane (TPool).</summary>
        public PoolGeometry Pool;
        /// <summary>W packed as the GEMM's A once per weight version (inference), or null: the GEMM packs W itself.</summary>
        public Sgemm.PackedMatrix? PackedWeights;

        // Y (OC, n) = W · col (patch, n): a short patch unpacked (SmallPatchGemm), else the GEMM with W packed per call or
        // once for many.
        private readonly void Multiply(ReadOnlySpan<float> col, int n, Span<float> result)
        {
            if (G.PatchSize <= SmallPatchGemm.MaxPatch && W != null)
            {
                fixed (float* pc = col, pr = result) SmallPatchGemm.Run(W, G.OC, G.PatchSize, pc, n, n, pr, n);
                return;
            }
            if (PackedWeights is { } packed)
                Sgemm.RunPrepackedA(packed, n, col, n, null, result, n, ParallelFor.ThreadCount);
            else
                Sgemm.Run(false, false, G.OC, n, G.PatchSize, 1f, new ReadOnlySpan<float>(W, G.OC * G.PatchSize), G.PatchSize, col, n, 0f,
                    result, n);
        }

        private readonly int OutputPlane => TPool.Enabled ? Pool.OH * Pool.OW : G.OutputPixels;

        public void Execute(int group, int worker)
        {
            ref readonly var g = ref G;
            int patch = g.PatchSize, pixels = g.OutputPixels, imageSize = g.C * g.H * g.W;
            int first = group * ImagesPerGroup, count = Math.Min(ImagesPerGroup, g.N - first);

            // One image whose GEMM can write y itself: no copy of the output.
            if (count == 1 && !TPool.Enabled)
            {
                var image = new ReadOnlySpan<float>(X + (long)first * imageSize, imageSize);
                var output = new Span<float>(Y + (long)first * g.OC * pixels, g.OC * pixels);
                ReadOnlySpan<float> col;
                if (IsPointwise(g)) col = image;
                else
                {
                    var scratch = Conv2DScratch.Columns(patch * pixels);
                    Im2Col.ImageToColumns(image, scratch, pixels, g);
                    col = scratch;
                }
                Multiply(col, pixels, output);
                // Bias (and ReLU) in one pass over each row the GEMM just wrote.
                if (TRelu.Enabled || Bias != null)
                    for (int oc = 0; oc < g.OC; oc++)
                    {
                        var row = output.Slice(oc * pixels, pixels);
                        Epilogue(row, oc, row);
                    }
                return;
            }

            // Several images side by side (or a pooled output): col (patch, count·pixels), Y (OC, count·pixels), then
            // scattered to NCHW (pooled on the way).
            int wide = count * pixels;
            ReadOnlySpan<float> cols;
            if (count == 1 && IsPointwise(g)) cols = new ReadOnlySpan<float>(X + (long)first * imageSize, imageSize);
            else
            {
                var scratch = Conv2DScratch.Columns(patch * wide);
                for (int b = 0; b < count; b++)
                    Im2Col.ImageToColumns(new ReadOnlySpan<float>(X + (long)(first + b) * imageSize, imageSize),
                        scratch.Slice(b * pixels), wide, g);
                cols = scratch;
            }
            var result = Conv2DScratch.Outputs(g.OC * wide);
            Multiply(cols, wide, result);
            fixed (float* pr = result) Scatter(pr, first, count, 0, g.OC);
        }

        /// <summary>One group shared by every thread: im2col by (image, channel), one GEMM, the epilogue by output channel.</summary>
        public readonly void SplitGroup(int group)
        {
            ref readonly var g = ref G;
            int patch = g.PatchSize, pixels = g.OutputPixels, imageSize = g.C * g.H * g.W;
            int first = group * ImagesPerGroup, count = Math.Min(ImagesPerGroup, g.N - first);
            int wide = count * pixels;
            bool direct = count == 1 && !TPool.Enabled; // the GEMM writes y itself
            bool inPlace = count == 1 && IsPointwise(g); // the image is its own column matrix

            var cols = inPlace ? default : Conv2DScratch.Columns(patch * wide);
            var result = direct ? new Span<float>(Y + (long)first * g.OC * pixels, g.OC * pixels) : Conv2DScratch.Outputs(g.OC * wide);
            fixed (float* pc = cols, pr = result)
            {
                var phase = new SplitPhase<TRelu, TPool> { Body = this, First = first, Count = count, Columns = pc, Result = pr, Direct = direct };
                if (!inPlace)
                {
                    phase.Phase = 0;
                    ParallelFor.For(count * g.C, ref phase);
                }
                var colSpan = inPlace ? new ReadOnlySpan<float>(X + (long)first * imageSize, imageSize) : new ReadOnlySpan<float>(pc, patch * wide);
                Multiply(colSpan, wide, result);
                if (direct && !TRelu.Enabled && Bias == null) return;
                phase.Phase = 1;
                phase.Chunk = Math.Max(1, g.OC / (4 * ParallelFor.ThreadCount));
                ParallelFor.For((g.OC + phase.Chunk - 1) / phase.Chunk, ref phase);
            }
        }

        /// <summary>
        /// Output rows [r0, r1) of one image (pooled rows with a fused pool: the convolution rows their windows cover),
        /// on this thread: im2col of just those rows (the geometry's top padding moved up by the rows above them), the
        /// product, then pool, bias and ReLU into y.
        /// </summary>
        public readonly void Band(int image, int r0, int r1)
        {
            ref readonly var g = ref G;
            int c0 = TPool.Enabled ? r0 * Pool.StrideH : r0;
            int c1 = TPool.Enabled ? (r1 - 1) * Pool.StrideH + Pool.KH : r1;
            var band = g with { N = 1, OH = c1 - c0, PadTop = g.PadTop - c0 * g.StrideH };
            int n = band.OutputPixels, imageSize = g.C * g.H * g.W;
            var cols = Conv2DScratch.Columns(g.PatchSize * n);
            Im2Col.ImageToColumns(new ReadOnlySpan<float>(X + (long)image * imageSize, imageSize), cols, n, band);
            var result = Conv2DScratch.Outputs(g.OC * n);
            Multiply(cols, n, result);
            int plane = OutputPlane, width = TPool.Enabled ? Pool.OW : g.OW;
            for (int oc = 0; oc < g.OC; oc++)
            {
                var src = result.Slice(oc * n, n);
                var dst = new Span<float>(Y + ((long)image * g.OC + oc) * plane + r0 * width, (r1 - r0) * width);
                if (TPool.Enabled)
                {
                    MaxPoolKernel.Forward(src, dst, Pool with { H = c1 - c0, OH = r1 - r0 });
                    Epilogue(dst, oc, dst);
                }
                else Epilogue(src, oc, dst);
            }
        }

        /// <summary>im2col of channel c of image first + b into its KH·KW rows of the group's column matrix.</summary>
        public readonly void ChannelColumns(int first, int b, int c, int wide, float* cols)
        {
            ref readonly var g = ref G;
            int plane = g.H * g.W, taps = g.KH * g.KW;
            var image = new ReadOnlySpan<float>(X + ((long)(first + b) * g.C + c) * plane, plane);
            var rows = new Span<float>(cols + (long)c * taps * wide + b * g.OutputPixels, (taps - 1) * wide + g.OutputPixels);
            Im2Col.ImageToColumns(image, rows, wide, g with { N = 1, C = 1 });
        }

        /// <summary>
        /// Output channels [oc0, oc1) of images first..first+count from the GEMM's result (OC, count·pixels) to y (+ bias,
        /// ReLU, pool); in place when the result is y itself (one image, no pool).
        /// </summary>
        public readonly void Scatter(float* result, int first, int count, int oc0, int oc1, bool inPlace = false)
        {
            ref readonly var g = ref G;
            int pixels = g.OutputPixels, wide = count * pixels, plane = OutputPlane;
            if (TPool.Enabled && count == 1)
            {
                // One image: its raw planes [oc0, oc1) lie one after another, so one pooling call covers them all (a call
                // per 28×28 plane cost more in set-up than in pooling), then bias (and ReLU) on each pooled plane.
                int planes = oc1 - oc0;
                var pooled = new Span<float>(Y + ((long)first * g.OC + oc0) * plane, planes * plane);
                MaxPoolKernel.Forward(new ReadOnlySpan<float>(result + (long)oc0 * pixels, planes * pixels), pooled,
                    Pool with { C = planes });
                for (int oc = oc0; oc < oc1; oc++)
                {
                    var dst = pooled.Slice((oc - oc0) * plane, plane);
                    Epilogue(dst, oc, dst);
                }
                return;
            }
            for (int b = 0; b < count; b++)
            for (int oc = oc0; oc < oc1; oc++)
            {
                var src = new ReadOnlySpan<float>(result + (long)oc * wide + b * pixels, pixels);
                var dst = new Span<float>(Y + ((long)(first + b) * g.OC + oc) * plane, plane);
                if (TPool.Enabled)
                {
                    // Pool the raw plane, then bias (and ReLU) on the pooled values.
                    MaxPoolKernel.Forward(src, dst, Pool);
                    Epilogue(dst, oc, dst);
                }
                else if (inPlace) Epilogue(dst, oc, dst);
                else Epilogue(src, oc, dst);
            }
        }

        // dst = src + bias (then ReLU when fused); a copy when neither.
        private readonly void Epilogue(ReadOnlySpan<float> src, int oc, Span<float> dst)
        {
            if (TRelu.Enabled) Conv2DReluKernels.BiasRelu(src, Bias == null ? 0f : Bias[oc], dst);
            else if (Bias != null) TensorPrimitives.Add(src, Bias[oc], dst);
            else if (!src.Overlaps(dst)) src.CopyTo(dst);
        }
    }

    /// <summary>One image's bands of output rows, one item each (<see cref="Body{TRelu, TPool}.Band"/>).</summary>
    private struct RowBands<TRelu, TPool> : IParallelBody where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        public Body<TRelu, TPool> Body;
        public int Image, RowsPerBand;
        /// <summary>Output rows of the image (pooled rows with a fused pool).</summary>
        public int Rows;

        public readonly void Execute(int index, int worker)
        {
            int r0 = index * RowsPerBand;
            Body.Band(Image, r0, Math.Min(Rows, r0 + RowsPerBand));
        }
    }

    /// <summary>A phase of a group shared by the threads: item i is im2col of (image, channel) (0) or a chunk of output channels (1).</summary>
    private struct SplitPhase<TRelu, TPool> : IParallelBody where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        public Body<TRelu, TPool> Body;
        public int First, Count, Phase, Chunk;
        public float* Columns, Result;
        public bool Direct;

        public readonly void Execute(int index, int worker)
        {
            if (Phase == 0)
            {
                Body.ChannelColumns(First, index / Body.G.C, index % Body.G.C, Count * Body.G.OutputPixels, Columns);
                return;
            }
            int oc0 = index * Chunk;
            Body.Scatter(Result, First, Count, oc0, Math.Min(oc0 + Chunk, Body.G.OC), inPlace: Direct);
        }
    }
}
