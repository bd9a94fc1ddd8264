using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// Convolution backward as GEMMs around im2col/col2im, for each group of images (see <see cref="Conv2DForwardKernel"/>):
///   dW    += dY_g (OC, B·OH·OW) · col_gᵀ                 (col_g = im2col of the group, rebuilt here rather than kept)
///   dBias += Σ over pixels of dY_g
///   dcol   = Wᵀ (C·KH·KW, OC) · dY_g,   dx_n += col2im(dcol's columns of image n)
///
/// Parallel over CHUNKS of groups. dx is per image, so chunks never collide on it; dW and dBias are reductions over the
/// batch, so every chunk accumulates into a partial of its own — chunk 0 straight into dW/dBias, the others into pooled
/// per-thread buffers — and the partials are added to dW/dBias in chunk order at the end. The chunking depends only on N, the layer
/// and the thread count, never on which worker ran what, so results are bitwise reproducible for a fixed thread count.
/// </summary>
public static unsafe class Conv2DBackwardKernel
{
    /// <summary>
    /// x (N, C, H, W), w (OC, C·KH·KW), dy (N, OC, OH, OW); ACCUMULATES dx (N, C, H, W), dw (OC, C·KH·KW), dBias (OC),
    /// each skipped when empty — dx is overwritten instead when <paramref name="accumulateDx"/> is false (its old contents
    /// are never read). <paramref name="imagesPerGemm"/>: 0 follows the cached plan (<see cref="ConvPlan.For"/>), else an
    /// uncached plan with that group size. <paramref name="algorithm"/> (null: <see cref="Conv2DAlgorithms.Current"/>)
    /// decides dx and dW. Winograd computes dx as the forward convolution dx += conv(dY, rot180(Wᵀ)) with padding 2 − pad,
    /// in a pass of its own, and dW and dBias in a second pass (<see cref="Winograd3x3.WeightGradient"/>); the direct
    /// convolution likewise (<see cref="DirectConvForward.RunInputGradient{TWrite}"/>, <see cref="DirectConvWeightGradient"/>);
    /// what is left runs the im2col passes below.
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, in ConvGeometry g, int imagesPerGemm = 0, Conv2DAlgorithm? algorithm = null,
        bool accumulateDx = true) =>
        Run(x, w, dy, dx, dw, dBias, PlanFor(g, imagesPerGemm, algorithm), accumulateDx);

    /// <summary>As above, following <paramref name="plan"/> (its geometry is the call's).</summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, ConvPlan plan, bool accumulateDx = true) =>
        RunMasked<NoRelu>(x, w, default, dy, dx, dw, dBias, plan, accumulateDx);

    /// <summary>
    /// The backward of a fused Conv2D + ReLU whose (post-ReLU) output is y (N, OC, OH, OW): as <see cref="Run(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, in ConvGeometry, int, Conv2DAlgorithm?, bool)"/>
    /// with dY replaced by <see cref="Conv2DReluKernels"/>(y, dy). The mask is applied per group of images into per-thread
    /// scratch right before the group's GEMMs (and per image inside the Winograd dx pass), so no full-size masked dY and no
    /// ReLU gradient tensor exist. Bitwise the result of ReLU backward into a zeroed tensor, then Run.
    /// </summary>
    public static void RunRelu(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> y, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, in ConvGeometry g, int imagesPerGemm = 0, Conv2DAlgorithm? algorithm = null,
        bool accumulateDx = true) =>
        RunRelu(x, w, y, dy, dx, dw, dBias, PlanFor(g, imagesPerGemm, algorithm), accumulateDx);

    /// <summary>As above, following <paramref name="plan"/>.</summary>
    public static void RunRelu(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> y, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, ConvPlan plan, bool accumulateDx = true)
    {
        var g = plan.Geometry;
        if (y.Length < g.N * g.OC * g.OutputPixels)
            throw new ArgumentException($"Conv2DBackwardKernel: ReLU output y {y.Length} does not fit {g}.");
        RunMasked<FusedRelu>(x, w, y, dy, dx, dw, dBias, plan, accumulateDx);
    }

    private static ConvPlan PlanFor(in ConvGeometry g, int imagesPerGemm, Conv2DAlgorithm? algorithm)
    {
        var setting = algorithm ?? Conv2DAlgorithms.Current;
        return imagesPerGemm > 0 ? ConvPlan.Create(g, setting, imagesPerGemm) : ConvPlan.For(g, setting);
    }

    // The plan's passes in turn: Winograd dx, Winograd dW (+ dBias), then one im2col pass for whatever is left.
    private static void RunMasked<TRelu>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> reluOutput, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, ConvPlan plan, bool accumulateDx) where TRelu : struct, IReluFusion
    {
        var g = plan.Geometry;
        int imageSize = g.C * g.H * g.W, weightSize = g.OC * g.PatchSize;
        if (x.Length < g.N * imageSize || w.Length < weightSize || dy.Length < g.N * g.OC * g.OutputPixels
            || (!dx.IsEmpty && dx.Length < g.N * imageSize) || (!dw.IsEmpty && dw.Length < weightSize)
            || (!dBias.IsEmpty && dBias.Length < g.OC))
            throw new ArgumentException($"Conv2DBackwardKernel: spans x {x.Length}, w {w.Length}, dy {dy.Length}, dx {dx.Length}, dw {dw.Length}, dBias {dBias.Length} do not fit {g}.");
        if (!dx.IsEmpty && plan.InputGradient == ConvMethod.Winograd)
        {
            Winograd3x3.Run(dy, w, default, dx, WinogradProblem.InputGradient(g), flipWeights: true, accumulate: accumulateDx,
                plan.InputGradientWinogradImages, inputMask: reluOutput);
            dx = default;
        }
        if (!dx.IsEmpty && plan.InputGradient == ConvMethod.Direct)
        {
            fixed (float* pdy = dy, pw = w, py = reluOutput, pdx = dx)
            {
                float* mask = TRelu.Enabled ? py : null;
                if (accumulateDx) DirectConvForward.RunInputGradient<AccumulateOutput>(pdy, pw, mask, pdx, g, plan.InputGradientPlan!);
                else DirectConvForward.RunInputGradient<OverwriteOutput>(pdy, pw, mask, pdx, g, plan.InputGradientPlan!);
            }
            dx = default;
        }
        if (!dw.IsEmpty && plan.WeightGradient == ConvMethod.Winograd)
        {
            Winograd3x3.WeightGradient(x, dy, reluOutput, dw, dBias, WinogradProblem.Forward(g), plan.WeightGradientWinogradImages);
            dw = default;
            dBias = default;
        }
        if ((!dw.IsEmpty || !dBias.IsEmpty) && plan.WeightGradient == ConvMethod.Direct)
        {
            fixed (float* px = x, pdy = dy, py = reluOutput, pdw = dw, pdb = dBias)
                DirectConvWeightGradient.Run<TRelu>(px, pdy, py, dw.IsEmpty ? null : pdw, dBias.IsEmpty ? null : pdb, plan);
            dw = default;
            dBias = default;
        }
        if (dx.IsEmpty && dw.IsEmpty && dBias.IsEmpty) return;
        if (dx.IsEmpty || accumulateDx) RunIm2Col<TRelu, AccumulateOutput>(x, w, reluOutput, dy, dx, dw, dBias, plan);
        else RunIm2Col<TRelu, OverwriteOutput>(x, w, reluOutput, dy, dx, dw, dBias, plan);
    }

    private static void RunIm2Col<TRelu, TDx>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> reluOutput,
        ReadOnlySpan<float> dy, Span<float> dx, Span<float> dw, Span<float> dBias, ConvPlan plan)
        where TRelu : struct, IReluFusion where TDx : struct, IWriteMode
    {
        var g = plan.Geometry;
        int weightSize = g.OC * g.PatchSize;
        int chunks = plan.Im2ColChunks(weights: !dw.IsEmpty, bias: !dBias.IsEmpty);

        // Partials of chunks 1..chunks−1: dW part then dBias part, per chunk.
        int partialStride = (dw.IsEmpty ? 0 : weightSize) + (dBias.IsEmpty ? 0 : g.OC);
        float[]? partials = partialStride > 0 && chunks > 1 ? Conv2DScratch.Partials((chunks - 1) * partialStride) : null;

        fixed (float* px = x, pw = w, pdy = dy, pdx = dx, pdw = dw, pdb = dBias, pp = partials, py = reluOutput)
        {
            var body = new Body<TRelu, TDx>
            {
                X = px, W = pw, DY = pdy, ReluOutput = py,
                DX = dx.IsEmpty ? null : pdx, DW = dw.IsEmpty ? null : pdw, DBias = dBias.IsEmpty ? null : pdb,
                Partials = pp, PartialStride = partialStride, Dots = plan.WeightGradient == ConvMethod.Im2ColDots,
                G = g, ImagesPerGroup = plan.Im2ColImagesPerGroup, Chunks = chunks, Groups = plan.Im2ColGroups,
            };
            // As in the forward: too few chunks to share out → sequentially, each GEMM parallel. Same chunks either way,
            // so the same sums.
            if (chunks >= ParallelFor.ThreadCount) ParallelFor.For(chunks, ref body);
            else for (int chunk = 0; chunk < chunks; chunk++) body.Execute(chunk, 0);
        }

        AddPartials(partials, chunks, partialStride, dw, dBias, weightSize, g.OC);
    }

    /// <summary>
    /// The fixed-order reduction of a chunked weight gradient: the partials of chunks 1..chunks−1 (each its dW part, then
    /// its dBias part, where those are wanted) added to dW and dBias in chunk order. Shared by the im2col and the direct dW.
    /// </summary>
    internal static void AddPartials(ReadOnlySpan<float> partials, int chunks, int partialStride, Span<float> dw, Span<float> dBias,
        int weightSize, int oc)
    {
        for (int chunk = 1; chunk < chunks; chunk++)
        {
            var part = partials.Slice((chunk - 1) * partialStride, partialStride);
            if (!dw.IsEmpty)
            {
                TensorPrimitives.Add(dw[..weightSize], part[..weightSize], dw[..weightSize]);
                part = part[weightSize..];
            }
            if (!dBias.IsEmpty) TensorPrimitives.Add(dBias[..oc], part[..oc], dBias[..oc]);
        }
    }

    /// <summary>
    /// One chunk of groups; per group four steps: its dY as one matrix (masked when the ReLU is fused), dW, dBias, dx. The
    /// fused ReLU (TRelu) and dx's accumulate/overwrite (TDx) are type parameters, so each combination is its own loop.
    /// </summary>
    private struct Body<TRelu, TDx> : IParallelBody where TRelu : struct, IReluFusion where TDx : struct, IWriteMode
    {
        public float* X, W, DY, DX, DW, DBias, Partials, ReluOutput;
        public int PartialStride;
        public bool Dots;
        public ConvGeometry G;
        public int ImagesPerGroup, Chunks, Groups;

        public void Execute(int chunk, int worker)
        {
            ref readonly var g = ref G;
            int weightSize = g.OC * g.PatchSize;

            // Where this chunk's dW / dBias contributions go. Chunk 0 accumulates into the real gradients; the others
            // overwrite their (uninitialised) partial with the first group, then accumulate.
            float* partial = chunk == 0 ? null : Partials + (long)(chunk - 1) * PartialStride;
            float* dwTarget = DW == null ? null : chunk == 0 ? DW : partial;
            float* dbTarget = DBias == null ? null : chunk == 0 ? DBias : partial + (DW == null ? 0 : weightSize);
            bool overwrite = chunk != 0;

            // Chunk sizes differ by at most one group (26 groups in 8 chunks: 3 or 4 each, not 7 chunks of 4), so the
            // workers finish together.
            int firstGroup = (int)((long)chunk * Groups / Chunks), lastGroup = (int)((long)(chunk + 1) * Groups / Chunks);
            for (int group = firstGroup; group < lastGroup; group++, overwrite = false)
            {
                int first = group * ImagesPerGroup, count = Math.Min(ImagesPerGroup, g.N - first);
                var dyGroup = GroupGradient(first, count);
                if (dwTarget != null) WeightGradientStep(dyGroup, first, count, new Span<float>(dwTarget, weightSize), overwrite);
                if (dbTarget != null) BiasStep(dyGroup, count * g.OutputPixels, dbTarget, overwrite);
                if (DX != null) InputGradientStep(dyGroup, first, count);
            }
        }

        // dY of the group as one (OC, count·pixels) matrix: image n's own block when alone and unmasked, gathered into
        // scratch otherwise; the fused ReLU masks it on the way in, while the group is hot.
        private readonly ReadOnlySpan<float> GroupGradient(int first, int count)
        {
            ref readonly var g = ref G;
            int pixels = g.OutputPixels, outSize = g.OC * pixels, wide = count * pixels;
            if (count == 1)
            {
                var own = new ReadOnlySpan<float>(DY + (long)first * outSize, outSize);
                if (!TRelu.Enabled) return own;
                var masked = Conv2DScratch.Outputs(outSize);
                Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(ReluOutput + (long)first * outSize, outSize), own, masked);
                return masked;
            }
            var gathered = Conv2DScratch.Outputs(g.OC * wide);
            for (int b = 0; b < count; b++)
            for (int oc = 0; oc < g.OC; oc++)
            {
                long at = (long)(first + b) * outSize + oc * pixels;
                var target = gathered.Slice(oc * wide + b * pixels, pixels);
                var source = new ReadOnlySpan<float>(DY + at, pixels);
                if (TRelu.Enabled) Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(ReluOutput + at, pixels), source, target);
                else source.CopyTo(target);
            }
            return gathered;
        }

        // dW (OC, patch) (+)= dY_g (OC, wide) · col_gᵀ (wide, patch): dot products for a narrow patch (the plan's
        // Im2ColDots), else the GEMM. col_g is rebuilt here (or is the image itself, 1×1 alone).
        private readonly void WeightGradientStep(ReadOnlySpan<float> dyGroup, int first, int count, Span<float> dwTarget, bool overwrite)
        {
            ref readonly var g = ref G;
            int patch = g.PatchSize, pixels = g.OutputPixels, imageSize = g.C * g.H * g.W, wide = count * pixels;
            ReadOnlySpan<float> col;
            if (count == 1 && ConvPlan.IsPointwise(g)) col = new ReadOnlySpan<float>(X + (long)first * imageSize, imageSize);
            else
            {
                var cols = Conv2DScratch.Columns(patch * wide);
                for (int b = 0; b < count; b++)
                    Im2Col.ImageToColumns(new ReadOnlySpan<float>(X + (long)(first + b) * imageSize, imageSize),
                        cols.Slice(b * pixels), wide, g);
                col = cols;
            }
            if (Dots) Conv2DWeightDots.Accumulate(dyGroup, wide, col, wide, g.OC, patch, wide, dwTarget, patch, overwrite);
            else Sgemm.Run(false, true, g.OC, patch, wide, 1f, dyGroup, wide, col, wide, overwrite ? 0f : 1f, dwTarget, patch);
        }

        private readonly void BiasStep(ReadOnlySpan<float> dyGroup, int wide, float* dbTarget, bool overwrite)
        {
            for (int oc = 0; oc < G.OC; oc++)
            {
                float sum = TensorPrimitives.Sum(dyGroup.Slice(oc * wide, wide));
                dbTarget[oc] = overwrite ? sum : dbTarget[oc] + sum;
            }
        }

        // dx of the group's images: Wᵀ·dY_n straight into dx_n for a lone 1×1 image; else dcol = Wᵀ·dY_g and col2im.
        private readonly void InputGradientStep(ReadOnlySpan<float> dyGroup, int first, int count)
        {
            ref readonly var g = ref G;
            int patch = g.PatchSize, pixels = g.OutputPixels, imageSize = g.C * g.H * g.W, wide = count * pixels;
            var weights = new ReadOnlySpan<float>(W, g.OC * patch);
            if (count == 1 && ConvPlan.IsPointwise(g))
            {
                // dx_n (C, H·W) (+)= Wᵀ (C, OC) · dY_n (OC, H·W): no col2im needed (beta 0 overwrites).
                Sgemm.Run(true, false, g.C, pixels, g.OC, 1f, weights, patch, dyGroup, pixels,
                    TDx.Accumulate ? 1f : 0f, new Span<float>(DX + (long)first * imageSize, imageSize), pixels);
                return;
            }
            // dcol (patch, wide) = Wᵀ (patch, OC) · dY_g (OC, wide); dx_n (+)= col2im(dcol_n).
            var dcol = Conv2DScratch.ColumnGradients(patch * wide);
            Sgemm.Run(true, false, patch, wide, g.OC, 1f, weights, patch, dyGroup, wide, 0f, dcol, wide);
            for (int b = 0; b < count; b++)
            {
                // col2im adds: a fresh dx image is cleared just before, while it is about to be in cache anyway.
                var image = new Span<float>(DX + (long)(first + b) * imageSize, imageSize);
                if (!TDx.Accumulate) image.Clear();
                Im2Col.ColumnsToImageAdd(dcol.Slice(b * pixels), wide, image, g);
            }
        }
    }
}
