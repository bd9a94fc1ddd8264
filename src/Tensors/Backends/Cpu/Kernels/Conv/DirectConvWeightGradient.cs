using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// dW (OC, C·KH·KW) and dBias (OC) of a stride-1 convolution without a column matrix: the weight-gradient side of
/// <see cref="DirectConvForward"/>. Per image, x is copied into its zero-padded planes and dY (masked by the ReLU output
/// when fused) into rows of OW rounded up to the vector width, zero past OW; then dW[oc, k] = Σ over that grid of
/// dY[oc, p] · padded[tap k + p's position] — each tap's operand is the padded image shifted, read in place — in register
/// blocks of four output channels × three taps (twelve vector chains, each summed to a float once per image). The im2col
/// backward instead rebuilds the column matrix and multiplies dY by its transpose, a GEMM of M = OC rows whose packing
/// costs more than its multiply-adds when OC is 8 or 16. Parallel over chunks of images, each chunk summing into a partial
/// of its own that is added to dW in chunk order (the im2col backward's scheme), so a fixed thread count gives fixed bits.
/// </summary>
internal static unsafe class DirectConvWeightGradient
{
    /// <summary>
    /// dw (+)= the weight gradient, dBias (+)= Σ dY per channel (each skipped when null), accumulated into what they hold;
    /// dY masked by <paramref name="reluOutput"/> (y &gt; 0) when TRelu.
    /// </summary>
    public static void Run<TRelu>(float* x, float* dy, float* reluOutput, float* dw, float* dBias, ConvPlan plan)
        where TRelu : struct, IReluFusion
    {
        var g = plan.Geometry;
        int weightSize = g.OC * g.PatchSize;
        int chunks = ConvPlan.ChunkCount(g.N, dw == null ? 0 : weightSize, dBias == null ? 0 : g.OC, plan.Threads);
        int partialStride = (dw == null ? 0 : weightSize) + (dBias == null ? 0 : g.OC);
        if (partialStride == 0) return;
        var width = ConvVectors.Best;
        int lanes = ConvVectors.Lanes(width);
        float[]? partials = chunks > 1 ? Conv2DScratch.Partials((chunks - 1) * partialStride) : null;
        fixed (int* taps = plan.DirectTaps)
        fixed (float* pp = partials)
        {
            var body = new ImageChunks<TRelu>
            {
                X = x, DY = dy, ReluOutput = reluOutput, DW = dw, DBias = dBias, Partials = pp, PartialStride = partialStride,
                Taps = taps, G = g, Chunks = chunks, Width = width, RowWidth = DirectConvForward.RowWidth(g, lanes), Slack = lanes,
                ImagesPerBatch = Math.Max(1, plan.DirectWeightImages),
            };
            // Too few chunks to share out: one after another (the same chunks, so the same sums).
            if (chunks >= ParallelFor.ThreadCount) ParallelFor.For(chunks, ref body);
            else for (int chunk = 0; chunk < chunks; chunk++) body.Execute(chunk, 0);
        }
        // The partials, in chunk order.
        if (partials is not null)
            Conv2DBackwardKernel.AddPartials(partials, chunks, partialStride, dw == null ? default : new Span<float>(dw, weightSize),
                dBias == null ? default : new Span<float>(dBias, g.OC), weightSize, g.OC);
    }

    private struct ImageChunks<TRelu> : IParallelBody where TRelu : struct, IReluFusion
    {
        public float* X, DY, ReluOutput, DW, DBias, Partials;
        public int* Taps;
        public int PartialStride, Chunks, RowWidth, Slack, ImagesPerBatch;
        public ConvGeometry G;
        public VectorWidth Width;

        public readonly void Execute(int chunk, int worker)
        {
            ref readonly var g = ref G;
            int weightSize = g.OC * g.PatchSize, gridSize = g.OH * RowWidth;
            // Chunk 0 accumulates into dW / dBias; the others overwrite their partial with their first image, then add.
            float* partial = chunk == 0 ? null : Partials + (long)(chunk - 1) * PartialStride;
            float* dwTarget = DW == null ? null : chunk == 0 ? DW : partial;
            float* dbTarget = DBias == null ? null : chunk == 0 ? DBias : partial + (DW == null ? 0 : weightSize);
            bool overwrite = chunk != 0;
            int first = (int)((long)chunk * g.N / Chunks), last = (int)((long)(chunk + 1) * g.N / Chunks);
            int paddedSize = PaddedSize, batch = ImagesPerBatch;
            fixed (float* padded = Conv2DScratch.Columns(paddedSize * batch))
            fixed (float* grid = Conv2DScratch.Outputs(g.OC * gridSize * batch))
            {
                for (int start = first; start < last; start += batch, overwrite = false)
                {
                    int count = Math.Min(batch, last - start);
                    for (int b = 0; b < count; b++)
                    {
                        int image = start + b;
                        float* imageGrid = grid + (long)b * g.OC * gridSize;
                        GatherGradient(image, imageGrid);
                        if (dbTarget != null)
                            for (int oc = 0; oc < g.OC; oc++)
                            {
                                float sum = TensorPrimitives.Sum(new ReadOnlySpan<float>(imageGrid + (long)oc * gridSize, gridSize));
                                dbTarget[oc] = overwrite && b == 0 ? sum : dbTarget[oc] + sum;
                            }
                        if (dwTarget != null)
                            DirectConvForward.PadImage(X + (long)image * g.C * g.H * g.W, null, g, padded + (long)b * paddedSize, Slack);
                    }
                    if (dwTarget == null) continue;
                    var products = new ProductsStep(this, grid, padded, count, dwTarget, overwrite);
                    ConvVectors.Run(Width, ref products);
                }
            }
        }

        private readonly int PaddedSize => DirectConvForward.PaddedFloats(G, Slack);

        // dY of one image (masked) into rows of RowWidth, zero past OW.
        private readonly void GatherGradient(int image, float* grid)
        {
            ref readonly var g = ref G;
            long at = (long)image * g.OC * g.OutputPixels;
            float* src = DY + at, mask = ReluOutput + at;
            float* dst = grid;
            for (int row = 0; row < g.OC * g.OH; row++, src += g.OW, mask += g.OW, dst += RowWidth)
            {
                var target = new Span<float>(dst, g.OW);
                if (TRelu.Enabled) Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(mask, g.OW), new ReadOnlySpan<float>(src, g.OW), target);
                else new ReadOnlySpan<float>(src, g.OW).CopyTo(target);
                new Span<float>(dst + g.OW, RowWidth - g.OW).Clear();
            }
        }

        /// <summary>One batch's products at the body's width (its arguments held for <see cref="ConvVectors.Run{TStep}"/>).</summary>
        private readonly struct ProductsStep(ImageChunks<TRelu> body, float* grid, float* padded, int images, float* target, bool overwrite) : IConvVectorStep
        {
            public void Run<TVec>() where TVec : struct, IConvVector<TVec> => body.Products<TVec>(grid, padded, images, target, overwrite);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Products<TVec>(float* grid, float* padded, int images, float* target, bool overwrite) where TVec : struct, IConvVector<TVec>
        {
            int oc = G.OC, patch = G.PatchSize;
            int o = 0;
            for (; o + 4 <= oc; o += 4)
            {
                int k = 0;
                for (; k + 3 <= patch; k += 3) Block<TVec, FourRows, ThreeTaps>(grid, padded, images, o, k, target, overwrite);
                for (; k < patch; k++) Block<TVec, FourRows, OneTap>(grid, padded, images, o, k, target, overwrite);
            }
            for (; o < oc; o++)
            {
                int k = 0;
                for (; k + 3 <= patch; k += 3) Block<TVec, OneRow, ThreeTaps>(grid, padded, images, o, k, target, overwrite);
                for (; k < patch; k++) Block<TVec, OneRow, OneTap>(grid, padded, images, o, k, target, overwrite);
            }
        }

        /// <summary>
        /// dW rows [o, o + TRows) × taps [k, k + TTaps) over a batch of images (their products summed in the same chains,
        /// reduced to floats once): one source for the 4 × 3 block and its edges (the counts are JIT constants, so unused
        /// chains vanish).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Block<TVec, TRows, TTaps>(float* grid, float* padded, int images, int o, int k, float* target, bool overwrite)
            where TVec : struct, IConvVector<TVec> where TRows : struct, IBlockCount where TTaps : struct, IBlockCount
        {
            int v = TVec.Count, gridSize = G.OH * RowWidth, wp = DirectConvForward.PaddedWidth(G), paddedSize = PaddedSize;
            long imageGrid = (long)G.OC * gridSize;
            bool rows4 = TRows.Count == 4, taps3 = TTaps.Count == 3;
            nint t0 = Taps[k], t1 = taps3 ? Taps[k + 1] : 0, t2 = taps3 ? Taps[k + 2] : 0;
            TVec a00 = TVec.Broadcast(0f), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
            TVec a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
            for (int b = 0; b < images; b++)
            for (int oy = 0; oy < G.OH; oy++)
            {
                float* xr = padded + b * paddedSize + oy * wp;
                float* e0 = grid + b * imageGrid + (long)o * gridSize + oy * RowWidth, e1 = e0 + gridSize, e2 = e1 + gridSize, e3 = e2 + gridSize;
                const int er = 0;
                for (int ox = 0; ox < RowWidth; ox += v)
                {
                    var x0 = TVec.Load(xr + t0 + ox);
                    var d0 = TVec.Load(e0 + er + ox);
                    a00 = TVec.MultiplyAdd(d0, x0, a00);
                    if (rows4)
                    {
                        var d1 = TVec.Load(e1 + er + ox);
                        var d2 = TVec.Load(e2 + er + ox);
                        var d3 = TVec.Load(e3 + er + ox);
                        a10 = TVec.MultiplyAdd(d1, x0, a10);
                        a20 = TVec.MultiplyAdd(d2, x0, a20);
                        a30 = TVec.MultiplyAdd(d3, x0, a30);
                        if (taps3)
                        {
                            var x1 = TVec.Load(xr + t1 + ox);
                            var x2 = TVec.Load(xr + t2 + ox);
                            a01 = TVec.MultiplyAdd(d0, x1, a01); a02 = TVec.MultiplyAdd(d0, x2, a02);
                            a11 = TVec.MultiplyAdd(d1, x1, a11); a12 = TVec.MultiplyAdd(d1, x2, a12);
                            a21 = TVec.MultiplyAdd(d2, x1, a21); a22 = TVec.MultiplyAdd(d2, x2, a22);
                            a31 = TVec.MultiplyAdd(d3, x1, a31); a32 = TVec.MultiplyAdd(d3, x2, a32);
                        }
                    }
                    else if (taps3)
                    {
                        a01 = TVec.MultiplyAdd(d0, TVec.Load(xr + t1 + ox), a01);
                        a02 = TVec.MultiplyAdd(d0, TVec.Load(xr + t2 + ox), a02);
                    }
                }
            }
            int patch = G.PatchSize;
            Put(target + (long)o * patch + k, a00, a01, a02, taps3, overwrite);
            if (rows4)
            {
                Put(target + (long)(o + 1) * patch + k, a10, a11, a12, taps3, overwrite);
                Put(target + (long)(o + 2) * patch + k, a20, a21, a22, taps3, overwrite);
                Put(target + (long)(o + 3) * patch + k, a30, a31, a32, taps3, overwrite);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put<TVec>(float* at, TVec s0, TVec s1, TVec s2, bool three, bool overwrite) where TVec : struct, IConvVector<TVec>
        {
            at[0] = overwrite ? TVec.Sum(s0) : at[0] + TVec.Sum(s0);
            if (!three) return;
            at[1] = overwrite ? TVec.Sum(s1) : at[1] + TVec.Sum(s1);
            at[2] = overwrite ? TVec.Sum(s2) : at[2] + TVec.Sum(s2);
        }
    }
}
