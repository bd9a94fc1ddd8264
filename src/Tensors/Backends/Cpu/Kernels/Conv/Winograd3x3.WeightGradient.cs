using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// The weight gradient of a Winograd F(2×2, 3×3) convolution. The forward is y_t = Aᵀ [Σ_c U[oc][c] ⊙ V_t[c]] A per 2×2
/// output tile t, with U = G g Gᵀ and V_t = Bᵀ d_t B, so by the chain rule
///   Ŷ_t[oc]   = A dY_t[oc] Aᵀ                       (4×4 from the 2×2 tile of dY; zero where an odd size clips it)
///   dU[oc][c] = Σ_t Ŷ_t[oc] ⊙ V_t[c]                (16 products (OC, T)·(C, T)ᵀ: K = tiles, summed over the batch)
///   dW[oc][c] = Gᵀ dU[oc][c] G                      (4×4 → 3×3, in double, once per call)
///   dBias[oc] = Σ_t Ŷ_t[oc][1][1]                   (= Σ dY: that entry is a + b + c + d of the tile)
/// 16 multiplies per tile and (oc, c) instead of im2col's 36, and no column matrix, which for 32×32 images is 1.2 MB per
/// image written, then re-read transposed by the GEMM's pack.
///
/// Parallel over chunks of image groups as the im2col backward is: each chunk sums its groups into its own dU/dBias
/// partial, and the partials are added in chunk order at the end, so the result is bitwise reproducible for a fixed
/// thread count.
/// </summary>
public static unsafe partial class Winograd3x3
{
    /// <summary>
    /// x (N, C, H, W), dy (N, OC, OH, OW) of the forward problem <paramref name="p"/>; ACCUMULATES dw (OC, C, 3, 3) and,
    /// unless empty, dBias (OC). A non-empty <paramref name="reluOutput"/> (N, OC, OH, OW) — the output of a fused
    /// Conv2D + ReLU — masks dy by reluOutput &gt; 0 first (<see cref="Conv2DReluKernels.MaskGradient"/>).
    /// <paramref name="imagesPerGroup"/>: 0 picks <see cref="ImagesPerGroup"/>.
    /// </summary>
    public static void WeightGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> reluOutput,
        Span<float> dw, Span<float> dBias, in WinogradProblem p, int imagesPerGroup = 0,
        VectorWidth width = VectorWidth.Auto)
    {
        if (p.N < 1 || p.C < 1 || p.OC < 1 || p.OH < 1 || p.OW < 1 || p.PadTop is < 0 or > 2 || p.PadLeft is < 0 or > 2
            || p.OH + 2 - p.H - p.PadTop is < 0 or > 2 || p.OW + 2 - p.W - p.PadLeft is < 0 or > 2)
            throw new ArgumentException($"Winograd3x3.WeightGradient: {p} is not a stride-1 3×3 convolution with padding 0..2.");
        long outputs = (long)p.N * p.OC * p.OH * p.OW;
        if (x.Length < (long)p.N * p.C * p.H * p.W || dy.Length < outputs || dw.Length < p.OC * p.C * 9
            || (!dBias.IsEmpty && dBias.Length < p.OC) || (!reluOutput.IsEmpty && reluOutput.Length < outputs))
            throw new ArgumentException($"Winograd3x3.WeightGradient: spans x {x.Length}, dy {dy.Length}, ReLU output {reluOutput.Length}, dw {dw.Length}, dBias {dBias.Length} are too small for {p}.");
        width = ConvVectors.Resolve(width, "Winograd3x3");

        int images = imagesPerGroup > 0 ? Math.Min(imagesPerGroup, p.N) : ImagesPerGroup(p);
        int groups = (p.N + images - 1) / images;
        int chunks = Math.Max(1, Math.Min(groups, 4 * ParallelFor.ThreadCount));
        int products = 16 * p.OC * p.C, partialStride = products + p.OC;
        float[] partials = Conv2DScratch.WinogradGradients(chunks * partialStride);
        fixed (float* px = x, pdy = dy, pr = reluOutput, pp = partials)
        {
            var body = new GradientBody
            {
                X = px, DY = pdy, ReluOutput = reluOutput.IsEmpty ? null : pr, Partials = pp, PartialStride = partialStride,
                P = p, ImagesPerGroup = images, Groups = groups, Chunks = chunks, Width = width,
            };
            // As in the forward: too few chunks to share out → one after another (the same chunks, so the same sums).
            if (chunks >= ParallelFor.ThreadCount) ParallelFor.For(chunks, ref body);
            else for (int chunk = 0; chunk < chunks; chunk++) body.Execute(chunk, 0);
        }

        // Fixed-order reduction into chunk 0's partial, then Gᵀ dU G into dW.
        var total = partials.AsSpan(0, partialStride);
        for (int chunk = 1; chunk < chunks; chunk++)
            TensorPrimitives.Add(total, partials.AsSpan(chunk * partialStride, partialStride), total);
        AddTransposedWeightTransform(total[..products], p.OC, p.C, dw);
        if (!dBias.IsEmpty) TensorPrimitives.Add(dBias[..p.OC], total.Slice(products, p.OC), dBias[..p.OC]);
    }

    /// <summary>
    /// dU (16, OC, C) → dw (OC, C, 3, 3) += Gᵀ dU[oc][c] G, the adjoint of <see cref="TransformWeights"/> (unflipped).
    /// Computed in double, rounded once.
    /// </summary>
    internal static void AddTransposedWeightTransform(ReadOnlySpan<float> du, int oc, int c, Span<float> dw)
    {
        int plane = oc * c;
        Span<double> t = stackalloc double[12]; // dU·G (4, 3)
        for (int at = 0; at < plane; at++)
        {
            for (int i = 0; i < 4; i++)
            {
                double d0 = du[(4 * i) * plane + at], d1 = du[(4 * i + 1) * plane + at];
                double d2 = du[(4 * i + 2) * plane + at], d3 = du[(4 * i + 3) * plane + at];
                t[3 * i] = d0 + 0.5 * (d1 + d2);
                t[3 * i + 1] = 0.5 * (d1 - d2);
                t[3 * i + 2] = 0.5 * (d1 + d2) + d3;
            }
            int w0 = at * 9;
            for (int l = 0; l < 3; l++)
            {
                double t0 = t[l], t1 = t[3 + l], t2 = t[6 + l], t3 = t[9 + l];
                dw[w0 + l] += (float)(t0 + 0.5 * (t1 + t2));
                dw[w0 + 3 + l] += (float)(0.5 * (t1 - t2));
                dw[w0 + 6 + l] += (float)(0.5 * (t1 + t2) + t3);
            }
        }
    }

    private struct GradientBody : IParallelBody, IConvVectorItems
    {
        public float* X, DY, ReluOutput, Partials;
        public int PartialStride;
        public WinogradProblem P;
        public int ImagesPerGroup, Groups, Chunks;
        public VectorWidth Width;

        public void Execute(int chunk, int worker) => ConvVectors.Run(Width, ref this, chunk);

        readonly void IConvVectorItems.Run<TVec>(int chunk) => Chunk<TVec>(chunk);

        // The groups of one chunk (sizes differ by at most one group), summed into the chunk's partial.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Chunk<TVec>(int chunk) where TVec : struct, IConvVector<TVec>
        {
            ref readonly var p = ref P;
            int tilesPerImage = p.TilesPerImage;
            int inPlane = p.H * p.W, outPlane = p.OH * p.OW;
            int imageFloats = p.C * inPlane, gradientFloats = p.OC * outPlane;
            int stride = RoundUp(ImagesPerGroup * tilesPerImage + Slack, 16);
            long vPlane = PlaneStride(p.C * stride), yPlane = PlaneStride(p.OC * stride);
            float* du = Partials + (long)chunk * PartialStride, dBias = du + 16 * p.OC * p.C;

            var v = Conv2DScratch.WinogradInput((int)(16 * vPlane));
            var yHat = Conv2DScratch.WinogradProducts((int)(16 * yPlane));
            var small = Conv2DScratch.WinogradTiles(SmallFloats(p));
            var masked = ReluOutput == null ? default : Conv2DScratch.WinogradMaskedImage(gradientFloats);
            int firstGroup = (int)((long)chunk * Groups / Chunks), lastGroup = (int)((long)(chunk + 1) * Groups / Chunks);
            fixed (float* pv = v, py = yHat, ps = small, pmasked = masked)
            {
                for (int group = firstGroup; group < lastGroup; group++)
                {
                    int first = group * ImagesPerGroup, count = Math.Min(ImagesPerGroup, p.N - first);
                    int tiles = count * tilesPerImage;
                    for (int b = 0; b < count; b++)
                    {
                        float* image = X + (long)(first + b) * imageFloats;
                        for (int c = 0; c < p.C; c++)
                            InputTile<TVec>(image + (long)c * inPlane, p, pv + (long)c * stride, TileLayout.RowMajor,
                                b * tilesPerImage, vPlane, ps);

                        long at = (long)(first + b) * gradientFloats;
                        float* gradient = DY + at;
                        if (ReluOutput != null)
                        {
                            Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(ReluOutput + at, gradientFloats),
                                new ReadOnlySpan<float>(gradient, gradientFloats), masked);
                            gradient = pmasked;
                        }
                        for (int oc = 0; oc < p.OC; oc++)
                            GradientTile<TVec>(gradient + (long)oc * outPlane, p, py + (long)oc * stride + b * tilesPerImage, yPlane, ps);
                    }

                    // dU[ξ] (OC, C) (+)= Ŷ[ξ] (OC, tiles) · V[ξ] (C, tiles)ᵀ; the chunk's first group overwrites. (As 4 × 4
                    // blocks of dot products, Conv2DWeightDots, this was 1.2–2× slower than the GEMM on the study layers.)
                    bool overwrite = group == firstGroup;
                    for (int xi = 0; xi < 16; xi++)
                        Sgemm.Run(false, true, p.OC, p.C, tiles, 1f,
                            new ReadOnlySpan<float>(py + xi * yPlane, p.OC * stride), stride,
                            new ReadOnlySpan<float>(pv + xi * vPlane, p.C * stride), stride, overwrite ? 0f : 1f,
                            new Span<float>(du + xi * p.OC * p.C, p.OC * p.C), p.C);
                    // dBias: the (1, 1) entry of Ŷ is the sum of the tile's dY.
                    for (int oc = 0; oc < p.OC; oc++)
                    {
                        float sum = TensorPrimitives.Sum(new ReadOnlySpan<float>(py + 5 * yPlane + (long)oc * stride, tiles));
                        dBias[oc] = overwrite ? sum : dBias[oc] + sum;
                    }
                }
            }
        }
    }

    /// <summary>
    /// One dY plane src (OH, OW) → Ŷ entries of its tiles: yHat[ξ·yPlane + t] = (A dY_t Aᵀ)[ξ] of flattened tile t,
    /// A = [1 0; 1 1; 1 −1; 0 −1] (so Aᵀ is the output transform's), the tile's missing row/column at odd sizes zero.
    /// Writes up to a vector past the last tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientTile<TVec>(float* src, in WinogradProblem p, float* yHat, long yPlane, float* scratch)
        where TVec : struct, IConvVector<TVec>
    {
        int tilesW = p.TilesW, tilesH = p.TilesH, n = TVec.Count, tiles = tilesH * tilesW;
        int rPlane = (tilesH + 1) * tilesW + Slack, zPlane = tiles + Slack;
        // The tile corners as four planes over flattened tiles: a = (2th, 2tw), b = (2th, 2tw + 1), c = (2th + 1, 2tw),
        // d = (2th + 1, 2tw + 1) (the output transform's Z region of the scratch; unused here).
        float* pa = scratch + 8 * rPlane + 2 * (tilesW + 1 + Slack), pb = pa + zPlane, pc = pb + zPlane, pd = pc + zPlane;

        // Stage 1: every dY row split into its even and odd columns (a/b for even rows, c/d for odd rows).
        int pairs = p.OW / 2;
        for (int row = 0; row < p.OH; row++)
        {
            float* line = src + (long)row * p.OW;
            int offset = (row >> 1) * tilesW;
            float* even = ((row & 1) == 0 ? pa : pc) + offset, odd = ((row & 1) == 0 ? pb : pd) + offset;
            DeinterleaveRow<TVec>(line, pairs, even, odd);
            if ((p.OW & 1) != 0)
            {
                even[pairs] = line[p.OW - 1];
                odd[pairs] = 0f;
            }
        }
        if ((p.OH & 1) != 0)
        {
            int offset = (tilesH - 1) * tilesW;
            new Span<float>(pc + offset, tilesW).Clear();
            new Span<float>(pd + offset, tilesW).Clear();
        }

        // Stage 2: rows of A·dY are (a, b), (a + c, b + d), (a − c, b − d), (−c, −d); each row (u, v) then becomes
        // (u, u + v, u − v, −v).
        var zero = TVec.Broadcast(0f);
        for (int t = 0; t < tiles; t += n)
        {
            var a = TVec.Load(pa + t); var b = TVec.Load(pb + t);
            var c = TVec.Load(pc + t); var d = TVec.Load(pd + t);
            RowOut(yHat + t, yPlane, 0, a, b, zero);
            RowOut(yHat + t, yPlane, 1, a + c, b + d, zero);
            RowOut(yHat + t, yPlane, 2, a - c, b - d, zero);
            RowOut(yHat + t, yPlane, 3, zero - c, zero - d, zero);
        }
    }

    // Ŷ[4·i + 0..3] at one vector of tiles = (u, u + v, u − v, −v).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowOut<TVec>(float* yHat, long yPlane, int i, TVec u, TVec v, TVec zero)
        where TVec : struct, IConvVector<TVec>
    {
        float* at = yHat + 4 * i * yPlane;
        TVec.Store(at, u);
        TVec.Store(at + yPlane, u + v);
        TVec.Store(at + 2 * yPlane, u - v);
        TVec.Store(at + 3 * yPlane, zero - v);
    }
}
