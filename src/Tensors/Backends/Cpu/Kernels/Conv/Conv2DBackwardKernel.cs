using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;

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
    /// <summary>Cap on the floats held by dW partials (16 MiB): very large layers get fewer, larger chunks.</summary>
    private const int PartialBudgetFloats = 4 << 20;

    /// <summary>
    /// x (N, C, H, W), w (OC, C·KH·KW), dy (N, OC, OH, OW); ACCUMULATES dx (N, C, H, W), dw (OC, C·KH·KW), dBias (OC),
    /// each skipped when empty — dx is overwritten instead when <paramref name="accumulateDx"/> is false (its old contents
    /// are never read). <paramref name="imagesPerGemm"/>: 0 picks <see cref="Conv2DForwardKernel.ImagesPerGemm"/>.
    /// <paramref name="algorithm"/> (null: <see cref="Conv2DAlgorithms.Current"/>) decides dx and dW. Winograd computes dx
    /// as the forward convolution dx += conv(dY, rot180(Wᵀ)) with padding 2 − pad, in a pass of its own, and dW and dBias
    /// in a second pass (<see cref="Winograd3x3.WeightGradient"/>); what is left runs the im2col passes below.
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, in ConvGeometry g, int imagesPerGemm = 0, Conv2DAlgorithm? algorithm = null,
        bool accumulateDx = true) =>
        RunMasked(x, w, default, dy, dx, dw, dBias, g, imagesPerGemm, algorithm, accumulateDx);

    /// <summary>
    /// The backward of a fused Conv2D + ReLU whose (post-ReLU) output is y (N, OC, OH, OW): as <see cref="Run"/> with dY
    /// replaced by <see cref="Conv2DReluKernels"/>(y, dy). The mask is applied per group of images into per-thread scratch
    /// right before the group's GEMMs (and per image inside the Winograd dx pass), so no full-size masked dY and no ReLU
    /// gradient tensor exist. Bitwise the result of ReLU backward into a zeroed tensor, then
    /// <see cref="Run"/>.
    /// </summary>
    public static void RunRelu(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> y, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, in ConvGeometry g, int imagesPerGemm = 0, Conv2DAlgorithm? algorithm = null,
        bool accumulateDx = true)
    {
        if (y.Length < g.N * g.OC * g.OutputPixels)
            throw new ArgumentException($"Conv2DBackwardKernel: ReLU output y {y.Length} does not fit {g}.");
        RunMasked(x, w, y, dy, dx, dw, dBias, g, imagesPerGemm, algorithm, accumulateDx);
    }

    // reluOutput empty: plain convolution backward; otherwise dY is masked by reluOutput > 0.
    private static void RunMasked(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> reluOutput, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> dBias, in ConvGeometry g, int imagesPerGemm, Conv2DAlgorithm? algorithm,
        bool accumulateDx)
    {
        int imageSize = g.C * g.H * g.W, weightSize = g.OC * g.PatchSize;
        if (x.Length < g.N * imageSize || w.Length < weightSize || dy.Length < g.N * g.OC * g.OutputPixels
            || (!dx.IsEmpty && dx.Length < g.N * imageSize) || (!dw.IsEmpty && dw.Length < weightSize)
            || (!dBias.IsEmpty && dBias.Length < g.OC))
            throw new ArgumentException($"Conv2DBackwardKernel: spans x {x.Length}, w {w.Length}, dy {dy.Length}, dx {dx.Length}, dw {dw.Length}, dBias {dBias.Length} do not fit {g}.");
        if (!dx.IsEmpty && Conv2DAlgorithms.UseWinograd(g, algorithm ?? Conv2DAlgorithms.Current, inputGradient: true))
        {
            Winograd3x3.Run(dy, w, default, dx, WinogradProblem.InputGradient(g), flipWeights: true, accumulate: accumulateDx, imagesPerGemm,
                inputMask: reluOutput);
            dx = default;
        }
        if (!dw.IsEmpty && Conv2DAlgorithms.UseWinograd(g, algorithm ?? Conv2DAlgorithms.Current, inputGradient: false))
        {
            Winograd3x3.WeightGradient(x, dy, reluOutput, dw, dBias, WinogradProblem.Forward(g), imagesPerGemm);
            dw = default;
            dBias = default;
        }
        if (dx.IsEmpty && dw.IsEmpty && dBias.IsEmpty) return;

        int imagesPerGroup = imagesPerGemm > 0 ? Math.Min(imagesPerGemm, g.N) : Conv2DForwardKernel.ImagesPerGemm(g);
        int groups = (g.N + imagesPerGroup - 1) / imagesPerGroup;
        int chunks = ChunkCount(groups, dw.IsEmpty ? 0 : weightSize, dBias.IsEmpty ? 0 : g.OC);

        // Partials of chunks 1..chunks−1: dW part then dBias part, per chunk.
        int partialStride = (dw.IsEmpty ? 0 : weightSize) + (dBias.IsEmpty ? 0 : g.OC);
        float[]? partials = partialStride > 0 && chunks > 1 ? Conv2DScratch.Partials((chunks - 1) * partialStride) : null;

        fixed (float* px = x, pw = w, pdy = dy, pdx = dx, pdw = dw, pdb = dBias, pp = partials, py = reluOutput)
        {
            var body = new Body
            {
                X = px, W = pw, DY = pdy, ReluOutput = reluOutput.IsEmpty ? null : py,
                DX = dx.IsEmpty ? null : pdx, DW = dw.IsEmpty ? null : pdw, DBias = dBias.IsEmpty ? null : pdb, OverwriteDx = !accumulateDx,
                Partials = pp, PartialStride = partialStride,
                G = g, ImagesPerGroup = imagesPerGroup, Chunks = chunks, Groups = groups,
            };
            // As in the forward: too few chunks to share out → sequentially, each GEMM parallel. Same chunks either way,
            // so the same sums.
            if (chunks >= ParallelFor.ThreadCount) ParallelFor.For(chunks, ref body);
            else for (int chunk = 0; chunk < chunks; chunk++) body.Execute(chunk, 0);
        }

        // Fixed-order reduction of the partials.
        for (int chunk = 1; chunk < chunks; chunk++)
        {
            var part = partials.AsSpan((chunk - 1) * partialStride, partialStride);
            if (!dw.IsEmpty)
            {
                TensorPrimitives.Add(dw[..weightSize], part[..weightSize], dw[..weightSize]);
                part = part[weightSize..];
            }
            if (!dBias.IsEmpty) TensorPrimitives.Add(dBias[..g.OC], part[..g.OC], dBias[..g.OC]);
        }
    }

    /// <summary>
    /// Chunks of groups: about four per thread so dynamic claiming balances the workers, never more than the groups, and
    /// few enough that the partials stay within <see cref="PartialBudgetFloats"/>.
    /// </summary>
    internal static int ChunkCount(int groups, int weightSize, int biasSize)
    {
        int chunks = Math.Min(groups, 4 * ParallelFor.ThreadCount);
        int perChunk = weightSize + biasSize;
        if (perChunk > 0) chunks = Math.Min(chunks, 1 + PartialBudgetFloats / perChunk);
        return Math.Max(1, chunks);
    }

    private struct Body : IParallelBody
    {
        public float* X, W, DY, DX, DW, DBias, Partials, ReluOutput;
        public bool OverwriteDx;
        public int PartialStride;
        public ConvGeometry G;
        public int ImagesPerGroup, Chunks, Groups;

        public void Execute(int chunk, int worker)
        {
            ref readonly var g = ref G;
            int patch = g.PatchSize, pixels = g.OutputPixels, imageSize = g.C * g.H * g.W, outSize = g.OC * pixels;
            int weightSize = g.OC * patch;

            // Where this chunk's dW / dBias contributions go. Chunk 0 accumulates into the real gradients; the others
            // overwrite their (uninitialised) partial with the first group, then accumulate.
            float* partial = chunk == 0 ? null : Partials + (long)(chunk - 1) * PartialStride;
            float* dwTarget = DW == null ? null : chunk == 0 ? DW : partial;
            float* dbTarget = DBias == null ? null : chunk == 0 ? DBias : partial + (DW == null ? 0 : weightSize);
            bool overwrite = chunk != 0;

            var weights = new ReadOnlySpan<float>(W, weightSize);
            // Chunk sizes differ by at most one group (26 groups in 8 chunks: 3 or 4 each, not 7 chunks of 4), so the
            // workers finish together.
            int firstGroup = (int)((long)chunk * Groups / Chunks), lastGroup = (int)((long)(chunk + 1) * Groups / Chunks);
            for (int group = firstGroup; group < lastGroup; group++, overwrite = false)
            {
                int first = group * ImagesPerGroup, count = Math.Min(ImagesPerGroup, g.N - first);
                int wide = count * pixels;
                bool pointwise = count == 1 && Conv2DForwardKernel.IsPointwise(g);

                // dY of the group as one (OC, wide) matrix: image n's own block when alone, gathered otherwise. Fused
                // ReLU: masked by the ReLU output on the way into scratch (gathered or not), while the group is hot.
                ReadOnlySpan<float> dyGroup;
                if (count == 1 && ReluOutput == null) dyGroup = new ReadOnlySpan<float>(DY + (long)first * outSize, outSize);
                else if (count == 1)
                {
                    var masked = Conv2DScratch.Outputs(outSize);
                    Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(ReluOutput + (long)first * outSize, outSize),
                        new ReadOnlySpan<float>(DY + (long)first * outSize, outSize), masked);
                    dyGroup = masked;
                }
                else
                {
                    var gathered = Conv2DScratch.Outputs(g.OC * wide);
                    for (int b = 0; b < count; b++)
                    for (int oc = 0; oc < g.OC; oc++)
                    {
                        long at = (long)(first + b) * outSize + oc * pixels;
                        var target = gathered.Slice(oc * wide + b * pixels, pixels);
                        if (ReluOutput == null) new ReadOnlySpan<float>(DY + at, pixels).CopyTo(target);
                        else Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(ReluOutput + at, pixels), new ReadOnlySpan<float>(DY + at, pixels), target);
                    }
                    dyGroup = gathered;
                }

                if (dwTarget != null)
                {
                    ReadOnlySpan<float> col;
                    if (pointwise) col = new ReadOnlySpan<float>(X + (long)first * imageSize, imageSize);
                    else
                    {
                        var cols = Conv2DScratch.Columns(patch * wide);
                        for (int b = 0; b < count; b++)
                            Im2Col.ImageToColumns(new ReadOnlySpan<float>(X + (long)(first + b) * imageSize, imageSize),
                                cols.Slice(b * pixels), wide, g);
                        col = cols;
                    }
                    // dW (OC, patch) += dY_g (OC, wide) · col_gᵀ (wide, patch): as dot products for a narrow patch (see
                    // Conv2DWeightDots.Prefer), else the GEMM.
                    var dwSpan = new Span<float>(dwTarget, weightSize);
                    if (Conv2DWeightDots.Prefer(patch))
                        Conv2DWeightDots.Accumulate(dyGroup, wide, col, wide, g.OC, patch, wide, dwSpan, patch, overwrite);
                    else
                        Gemm.Gemm.Run(false, true, g.OC, patch, wide, 1f, dyGroup, wide, col, wide, overwrite ? 0f : 1f, dwSpan, patch);
                }

                if (dbTarget != null)
                    for (int oc = 0; oc < g.OC; oc++)
                    {
                        float sum = TensorPrimitives.Sum(dyGroup.Slice(oc * wide, wide));
                        dbTarget[oc] = overwrite ? sum : dbTarget[oc] + sum;
                    }

                if (DX != null)
                {
                    if (pointwise)
                    {
                        // dx_n (C, H·W) += Wᵀ (C, OC) · dY_n (OC, H·W): no col2im needed (beta 0 overwrites).
                        Gemm.Gemm.Run(true, false, g.C, pixels, g.OC, 1f, weights, patch, dyGroup, pixels,
                            OverwriteDx ? 0f : 1f, new Span<float>(DX + (long)first * imageSize, imageSize), pixels);
                    }
                    else
                    {
                        // dcol (patch, wide) = Wᵀ (patch, OC) · dY_g (OC, wide); dx_n += col2im(dcol_n).
                        var dcol = Conv2DScratch.ColumnGradients(patch * wide);
                        Gemm.Gemm.Run(true, false, patch, wide, g.OC, 1f, weights, patch, dyGroup, wide, 0f, dcol, wide);
                        for (int b = 0; b < count; b++)
                        {
                            // col2im adds: a fresh dx image is cleared just before, while it is about to be in cache anyway.
                            var image = new Span<float>(DX + (long)(first + b) * imageSize, imageSize);
                            if (OverwriteDx) image.Clear();
                            Im2Col.ColumnsToImageAdd(dcol.Slice(b * pixels), wide, image, g);
                        }
                    }
                }
            }
        }
    }
}
