using System.Runtime.CompilerServices;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// The stride-1 3×3 convolution a Winograd call computes: input (N, C, H, W) → output (N, OC, OH, OW) with PadTop/PadLeft
/// zero rows/columns before the image (bottom/right padding implied by OH/OW, each 0..2).
/// </summary>
public readonly record struct WinogradProblem(int N, int C, int H, int W, int OC, int PadTop, int PadLeft, int OH, int OW)
{
    /// <summary>Tiles of 2×2 outputs per image: ⌈OH/2⌉ × ⌈OW/2⌉ (partial tiles at odd sizes are clipped on output).</summary>
    public int TilesH => (OH + 1) / 2;
    public int TilesW => (OW + 1) / 2;
    public int TilesPerImage => TilesH * TilesW;

    /// <summary>The forward of a layer: x (N, C, H, W) → y (N, OC, OH, OW).</summary>
    public static WinogradProblem Forward(in ConvGeometry g) => new(g.N, g.C, g.H, g.W, g.OC, g.PadTop, g.PadLeft, g.OH, g.OW);

    /// <summary>
    /// The input gradient of a layer as a forward convolution: dy (N, OC, OH, OW) → dx (N, C, H, W) with the weights
    /// W′[c][oc] = rot180(W[oc][c]) and padding 2 − pad on every side (a 'full' correlation of dy).
    /// </summary>
    public static WinogradProblem InputGradient(in ConvGeometry g) => new(g.N, g.OC, g.OH, g.OW, g.C, 2 - g.PadTop, 2 - g.PadLeft, g.H, g.W);

    /// <summary>3×3 kernel, stride 1, every padding (top, left, bottom, right) in 0..2: then both the forward and dx fit.</summary>
    public static bool Supports(in ConvGeometry g)
    {
        if (g.KH != 3 || g.KW != 3 || g.StrideH != 1 || g.StrideW != 1) return false;
        int padBottom = g.OH + 2 - g.H - g.PadTop, padRight = g.OW + 2 - g.W - g.PadLeft;
        return g.PadTop is >= 0 and <= 2 && g.PadLeft is >= 0 and <= 2 && padBottom is >= 0 and <= 2 && padRight is >= 0 and <= 2;
    }
}

/// <summary>
/// Winograd F(2×2, 3×3) convolution (Lavin &amp; Gray 2015): every 2×2 output tile is Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A of the
/// 4×4 input tile d, so a tile costs 16 multiplies per (oc, c) instead of 36. Over a group of images with T tiles:
///   U (16, OC, C) = G g Gᵀ of every 3×3 kernel                          (once per call, before the parallel loop)
///   V (16, C, T)  = Bᵀ d B of every 4×4 input tile                       (zero padding, partial last tiles)
///   M[ξ] (OC, T)  = U[ξ] (OC, C) · V[ξ] (C, T)                           (16 GEMMs, K = C)
///   y             = Aᵀ M A (+ bias) scattered to NCHW, clipped at odd sizes (overwritten, or added for dx)
/// Parallel over groups of images, a group's V and M sized to stay near L2; each group's arithmetic order is fixed, so
/// results are bitwise reproducible for a fixed thread count.
///
/// The transforms are vectorised over tiles. Input: each padded row is split into its even and odd columns (E, O); the
/// row transform of tile column k then needs E[k], O[k], E[k+1], O[k+1] (contiguous loads), and its results are stored by
/// row PARITY, so the column transform of flattened tile t reads rows t and t + tilesW of the even and odd planes: one
/// unit-stride vector over all tiles of an image, whatever its width. Output: the same in reverse, the 2×2 results of
/// flattened tiles into four planes, then interleaved per output row.
/// </summary>
public static unsafe partial class Winograd3x3
{
    /// <summary>Slack floats after every small per-thread buffer: a full vector may run past the last tile.</summary>
    private const int Slack = 32;

    /// <summary>
    /// x (N, C, H, W), w (OC, C, 3, 3) — or, when <paramref name="flipWeights"/>, w (C, OC, 3, 3) read as
    /// W′[oc][c] = rot180(w[c][oc]) — bias (OC) or empty → y (N, OC, OH, OW): overwritten (+ bias), or ACCUMULATED when
    /// <paramref name="accumulate"/>. <paramref name="imagesPerGroup"/>: 0 picks <see cref="ImagesPerGroup"/>.
    /// Fused ReLU (Conv2D + ReLU): <paramref name="relu"/> makes the (overwritten) output max(·, 0), plane by plane right
    /// after its output transform; a non-empty <paramref name="inputMask"/> (N, C, H, W) — the ReLU output whose gradient x
    /// is — reads x as <see cref="Conv2DReluKernels"/>(mask, x), image by image before its input transform (the dx pass).
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        in WinogradProblem p, bool flipWeights, bool accumulate, int imagesPerGroup = 0,
        VectorWidth width = VectorWidth.Auto, ReadOnlySpan<float> inputMask = default, bool relu = false)
    {
        CheckProblem(p);
        if (w.Length < p.OC * p.C * 9)
            throw new ArgumentException($"Winograd3x3: weights {w.Length} too small for {p}.");
        var u = Conv2DScratch.WinogradWeights(16 * p.OC * p.C);
        TransformWeights(w, p.OC, p.C, flipWeights, u);
        Execute(x, u, bias, y, p, accumulate, imagesPerGroup, width, inputMask, relu, pool: false);
    }

    /// <summary>
    /// The forward with its weights already transformed: <paramref name="u"/> (16, OC, C) from <see cref="TransformWeights"/>
    /// (inference keeps U per weight version instead of transforming on every call). With <paramref name="pool"/>, a 2×2,
    /// stride-2 max-pool is fused into the output transform — each 2×2 output tile is one pooling window, so a tile yields
    /// one value, max(tile) + bias, then the ReLU — and y is the pooled (N, OC, OH/2, OW/2) (OH and OW must be even).
    /// Bitwise the unfused Run + ReLU + max-pool: adding the bias and the ReLU are monotone, so they commute with the max.
    /// </summary>
    public static void RunTransformed(ReadOnlySpan<float> x, ReadOnlySpan<float> u, ReadOnlySpan<float> bias, Span<float> y,
        in WinogradProblem p, int imagesPerGroup, bool relu, bool pool, VectorWidth width = VectorWidth.Auto,
        Sgemm.PackedMatrix[]? packedU = null)
    {
        if (packedU is not null && (packedU.Length != 16 || packedU[0].M != p.OC || packedU[0].K != p.C))
            throw new ArgumentException($"Winograd3x3: the packed U must be 16 matrices of {p.OC} × {p.C}.");
        CheckProblem(p);
        if (u.Length < 16 * p.OC * p.C)
            throw new ArgumentException($"Winograd3x3: transformed weights {u.Length} too small for {p} (16·OC·C = {16 * p.OC * p.C}).");
        if (pool && ((p.OH & 1) != 0 || (p.OW & 1) != 0))
            throw new ArgumentException($"Winograd3x3: a fused 2×2 pool needs an even output size; {p} has {p.OH}×{p.OW}.");
        Execute(x, u, bias, y, p, accumulate: false, imagesPerGroup, width, default, relu, pool, packedU);
    }

    private static void CheckProblem(in WinogradProblem p)
    {
        if (p.N < 1 || p.C < 1 || p.OC < 1 || p.OH < 1 || p.OW < 1 || p.PadTop is < 0 or > 2 || p.PadLeft is < 0 or > 2
            || p.OH + 2 - p.H - p.PadTop is < 0 or > 2 || p.OW + 2 - p.W - p.PadLeft is < 0 or > 2)
            throw new ArgumentException($"Winograd3x3: {p} is not a stride-1 3×3 convolution with padding 0..2.");
    }

    private static void Execute(ReadOnlySpan<float> x, ReadOnlySpan<float> u, ReadOnlySpan<float> bias, Span<float> y,
        in WinogradProblem p, bool accumulate, int imagesPerGroup, VectorWidth width, ReadOnlySpan<float> inputMask, bool relu,
        bool pool, Sgemm.PackedMatrix[]? packedU = null)
    {
        long outputFloats = pool ? (long)p.N * p.OC * (p.OH / 2) * (p.OW / 2) : (long)p.N * p.OC * p.OH * p.OW;
        if (x.Length < (long)p.N * p.C * p.H * p.W || y.Length < outputFloats || (!bias.IsEmpty && bias.Length < p.OC))
            throw new ArgumentException($"Winograd3x3: spans x {x.Length}, bias {bias.Length}, y {y.Length} are too small for {p}.");
        if ((!inputMask.IsEmpty && inputMask.Length < (long)p.N * p.C * p.H * p.W) || (relu && accumulate))
            throw new ArgumentException($"Winograd3x3: input mask {inputMask.Length} too small for {p}, or relu with accumulate (the ReLU applies to an overwritten output only).");
        width = ConvVectors.Resolve(width, "Winograd3x3");

        int images = imagesPerGroup > 0 ? Math.Min(imagesPerGroup, p.N) : ImagesPerGroup(p);
        fixed (float* px = x, pu = u, pb = bias, py = y, pm = inputMask)
        {
            var body = new Body<NoRelu, OverwriteOutput, NoPool>
            {
                X = px, U = pu, Bias = bias.IsEmpty ? null : pb, Y = py, P = p,
                ImagesPerGroup = images, Width = width, Mask = inputMask.IsEmpty ? null : pm, PackedU = packedU,
            };
            // The output's write mode, the fused ReLU and the fused pool as type parameters: one compiled loop each.
            if (accumulate) RunGroups(body.As<NoRelu, AccumulateOutput, NoPool>());
            else if (relu && pool) RunGroups(body.As<FusedRelu, OverwriteOutput, FusedPool>());
            else if (relu) RunGroups(body.As<FusedRelu, OverwriteOutput, NoPool>());
            else if (pool) RunGroups(body.As<NoRelu, OverwriteOutput, FusedPool>());
            else RunGroups(body);
        }
    }

    private static void RunGroups<TRelu, TWrite, TPool>(Body<TRelu, TWrite, TPool> body)
        where TRelu : struct, IReluFusion where TWrite : struct, IWriteMode where TPool : struct, IPoolFusion
    {
        int groups = (body.P.N + body.ImagesPerGroup - 1) / body.ImagesPerGroup;
        if (ParallelFor.InsideParallel || !ConvPlan.SplitsWinogradGroups(body.P, body.ImagesPerGroup, ParallelFor.ThreadCount))
        {
            ParallelFor.For(groups, ref body);
            return;
        }
        // Fewer groups than threads (a batch of one or a few images): the threads share each group instead, phase by phase
        // — its channels' input transforms, its 16 GEMMs, its output channels — so one image still uses every core. Every
        // value is computed by the same arithmetic as in a whole-group item (the GEMM's result does not depend on its thread
        // count), so the results are bitwise those of the unsplit run.
        var split = new SplitGroups<TRelu, TWrite, TPool>(body, groups);
        ConvVectors.Run(body.Width, ref split);
    }

    private readonly struct SplitGroups<TRelu, TWrite, TPool>(Body<TRelu, TWrite, TPool> body, int groups) : IConvVectorStep
        where TRelu : struct, IReluFusion where TWrite : struct, IWriteMode where TPool : struct, IPoolFusion
    {
        public void Run<TVec>() where TVec : struct, IConvVector<TVec>
        {
            for (int group = 0; group < groups; group++) body.SplitGroup<TVec>(group);
        }
    }

    /// <summary>
    /// Images per group on this machine: V (16·C·T) and M (16·OC·T) together within half the core's L2, so the GEMMs read
    /// V and the output transform reads M from L2 (measured with a 2 MiB L2, docs/perf/conv.md: 32→32 @32 one image per
    /// group, 64→128 @8 five; groups of twice that were 5–15% slower), and ≥ 4 groups per thread so dynamic claiming
    /// balances. The convolution drivers take it from their <see cref="ConvPlan"/>.
    /// </summary>
    public static int ImagesPerGroup(in WinogradProblem p) =>
        ConvPlan.WinogradImagesPerGroup(p, ConvPlan.GroupBudgets.From(CpuCaches.Current).WinogradFloats, ParallelFor.ThreadCount);

    /// <summary>
    /// w (OC, C, 3, 3) → u (16, OC, C): u[4i + j][oc][c] = (G g Gᵀ)[i][j], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    /// Flipped: w (C, OC, 3, 3), g = rot180(w[c][oc]) (the dx weights). Computed in double, rounded once.
    /// </summary>
    public static void TransformWeights(ReadOnlySpan<float> w, int oc, int c, bool flipped, Span<float> u)
    {
        if (w.Length < oc * c * 9 || u.Length < 16 * oc * c)
            throw new ArgumentException($"Winograd3x3.TransformWeights: w {w.Length} or u {u.Length} too small for {oc}×{c} kernels.");
        Span<double> k = stackalloc double[9];
        Span<double> gk = stackalloc double[12]; // G·g (4, 3)
        for (int o = 0; o < oc; o++)
        for (int i = 0; i < c; i++)
        {
            if (flipped)
                for (int t = 0; t < 9; t++) k[t] = w[(i * oc + o) * 9 + 8 - t];
            else
                for (int t = 0; t < 9; t++) k[t] = w[(o * c + i) * 9 + t];
            for (int col = 0; col < 3; col++)
            {
                double g0 = k[col], g1 = k[3 + col], g2 = k[6 + col];
                gk[col] = g0;
                gk[3 + col] = 0.5 * (g0 + g1 + g2);
                gk[6 + col] = 0.5 * (g0 - g1 + g2);
                gk[9 + col] = g2;
            }
            for (int row = 0; row < 4; row++)
            {
                double g0 = gk[row * 3], g1 = gk[row * 3 + 1], g2 = gk[row * 3 + 2];
                int at = o * c + i, plane = oc * c;
                u[(row * 4 + 0) * plane + at] = (float)g0;
                u[(row * 4 + 1) * plane + at] = (float)(0.5 * (g0 + g1 + g2));
                u[(row * 4 + 2) * plane + at] = (float)(0.5 * (g0 - g1 + g2));
                u[(row * 4 + 3) * plane + at] = (float)g2;
            }
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>Floats between ξ planes: ≥ planeFloats, ≡ 16 (one cache line) mod 1024 (4 KiB).</summary>
    private static long PlaneStride(int planeFloats) => RoundUp(planeFloats, 1024) + 16;

    /// <summary>How one group of images lies in V and M (decided per group from its image count and the vector width).</summary>
    private readonly struct GroupLayout
    {
        public readonly int First, Count, TilesPerImage, Tiles, Stride, VRow;
        public readonly bool Prepacked;
        public readonly TileLayout Layout;
        public readonly long VPlane, MPlane;

        public GroupLayout(in WinogradProblem p, int group, int imagesPerGroup, int vectorCount)
        {
            First = group * imagesPerGroup;
            Count = Math.Min(imagesPerGroup, p.N - First);
            TilesPerImage = p.TilesPerImage;
            Tiles = Count * TilesPerImage;
            // Row stride of V and M: room for a full vector past the last tile (stores run over it), a multiple of 16.
            Stride = RoundUp(Tiles + Slack, 16);
            // The 16 ξ planes of V and of M are written (input transform) and read (output transform) side by side: 16
            // streams. Planes k·4 KiB apart would all map to the same L1 sets and evict each other, so each plane starts
            // one cache line (16 floats) further round the 4 KiB than the previous one.
            // V straight in the GEMM's packed-B layout (panels of `panel` tiles, channel-major inside) when every vector
            // store of the input transform stays inside one panel; else row-major (C, stride) and the GEMM packs it.
            int panel = Sgemm.PackedPanelWidth;
            Prepacked = panel % vectorCount == 0 && (Count == 1 || TilesPerImage % vectorCount == 0);
            Layout = Prepacked ? new TileLayout(panel, p.C * panel) : TileLayout.RowMajor;
            VRow = Prepacked ? RoundUp(Tiles + vectorCount, panel) : Stride;
            VPlane = PlaneStride(p.C * VRow);
            MPlane = PlaneStride(p.OC * Stride);
        }
    }

    /// <summary>
    /// One group of images per item; TRelu: ReLU on each (overwritten) output plane; TWrite: y overwritten or added to;
    /// TPool: a 2×2 max-pool fused into the output transform.
    /// </summary>
    private struct Body<TRelu, TWrite, TPool> : IParallelBody, IConvVectorItems
        where TRelu : struct, IReluFusion where TWrite : struct, IWriteMode where TPool : struct, IPoolFusion
    {
        public float* X, U, Bias, Y, Mask;
        public WinogradProblem P;
        public int ImagesPerGroup;
        public VectorWidth Width;
        /// <summary>U[ξ] packed as the GEMMs' A once per weight version (inference), or null: each GEMM packs it.</summary>
        public Sgemm.PackedMatrix[]? PackedU;

        public readonly Body<TRelu2, TWrite2, TPool2> As<TRelu2, TWrite2, TPool2>()
            where TRelu2 : struct, IReluFusion where TWrite2 : struct, IWriteMode where TPool2 : struct, IPoolFusion =>
            new() { X = X, U = U, Bias = Bias, Y = Y, Mask = Mask, P = P, ImagesPerGroup = ImagesPerGroup, Width = Width, PackedU = PackedU };

        public void Execute(int group, int worker) => ConvVectors.Run(Width, ref this, group);

        readonly void IConvVectorItems.Run<TVec>(int group) => Group<TVec>(group);

        // One group of images on this thread: V, 16 GEMMs, output.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Group<TVec>(int group) where TVec : struct, IConvVector<TVec>
        {
            var gl = new GroupLayout(P, group, ImagesPerGroup, TVec.Count);
            var v = Conv2DScratch.WinogradInput((int)(16 * gl.VPlane));
            var m = Conv2DScratch.WinogradProducts((int)(16 * gl.MPlane));
            fixed (float* pv = v, pm = m)
            {
                InputPhase<TVec>(gl, pv, 0, P.C);
                MultiplyPhase(gl, pv, pm, 0, 16);
                OutputPhase<TVec>(gl, pm, 0, P.OC);
            }
        }

        /// <summary>One group shared by every thread, phase by phase (V and M belong to the calling thread).</summary>
        public readonly void SplitGroup<TVec>(int group) where TVec : struct, IConvVector<TVec>
        {
            var gl = new GroupLayout(P, group, ImagesPerGroup, TVec.Count);
            var v = Conv2DScratch.WinogradInput((int)(16 * gl.VPlane));
            var m = Conv2DScratch.WinogradProducts((int)(16 * gl.MPlane));
            fixed (float* pv = v, pm = m)
            {
                var phase = new SplitPhase<TRelu, TWrite, TPool, TVec> { Body = this, Layout = gl, V = pv, M = pm };
                int chunk = Math.Max(1, P.C / (4 * ParallelFor.ThreadCount));
                phase.Phase = 0; phase.Chunk = chunk;
                ParallelFor.For((P.C + chunk - 1) / chunk, ref phase);
                phase.Phase = 1; phase.Chunk = 1;
                ParallelFor.For(16, ref phase);
                chunk = Math.Max(1, P.OC / (4 * ParallelFor.ThreadCount));
                phase.Phase = 2; phase.Chunk = chunk;
                ParallelFor.For((P.OC + chunk - 1) / chunk, ref phase);
            }
        }

        /// <summary>Input transforms of channels [c0, c1) of every image of the group into V.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void InputPhase<TVec>(in GroupLayout gl, float* pv, int c0, int c1) where TVec : struct, IConvVector<TVec>
        {
            ref readonly var p = ref P;
            int inPlane = p.H * p.W, imageFloats = p.C * inPlane, channels = c1 - c0;
            var small = Conv2DScratch.WinogradTiles(SmallFloats(p));
            var maskedImage = Mask == null ? default : Conv2DScratch.WinogradMaskedImage(channels * inPlane);
            fixed (float* ps = small, pmasked = maskedImage)
            {
                for (int b = 0; b < gl.Count; b++)
                {
                    long at = (long)(gl.First + b) * imageFloats + (long)c0 * inPlane;
                    float* image = X + at;
                    if (Mask != null)
                    {
                        // Fused ReLU backward: the channels' dY masked by the ReLU output into L2 scratch, in one streaming
                        // call (per-plane calls of 64–256 floats were latency-bound), then transformed from there.
                        Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(Mask + at, channels * inPlane),
                            new ReadOnlySpan<float>(image, channels * inPlane), maskedImage);
                        image = pmasked;
                    }
                    for (int c = c0; c < c1; c++)
                        InputTile<TVec>(image + (long)(c - c0) * inPlane, p, pv + (long)c * gl.Layout.ChannelStride(gl.Stride),
                            gl.Layout, b * gl.TilesPerImage, gl.VPlane, ps);
                }
            }
        }

        /// <summary>M[ξ] = U[ξ] · V[ξ] for ξ in [xi0, xi1).</summary>
        public readonly void MultiplyPhase(in GroupLayout gl, float* pv, float* pm, int xi0, int xi1)
        {
            ref readonly var p = ref P;
            for (int xi = xi0; xi < xi1; xi++)
            {
                var u = new ReadOnlySpan<float>(U + xi * p.OC * p.C, p.OC * p.C);
                var product = new Span<float>(pm + xi * gl.MPlane, p.OC * gl.Stride);
                if (PackedU is not null)
                    Sgemm.RunPrepackedA(PackedU[xi], gl.Tiles, new ReadOnlySpan<float>(pv + xi * gl.VPlane, gl.Prepacked ? 0 : p.C * gl.Stride),
                        gl.Stride, gl.Prepacked ? pv + xi * gl.VPlane : null, product, gl.Stride, ParallelFor.ThreadCount);
                else if (gl.Prepacked)
                    Sgemm.RunPrepackedB(p.OC, gl.Tiles, p.C, 1f, u, p.C, pv + xi * gl.VPlane, (long)p.C * gl.VRow, 0f, product,
                        gl.Stride, ParallelFor.ThreadCount);
                else
                    Sgemm.Run(false, false, p.OC, gl.Tiles, p.C, 1f, u, p.C,
                        new ReadOnlySpan<float>(pv + xi * gl.VPlane, p.C * gl.Stride), gl.Stride, 0f, product, gl.Stride);
            }
        }

        /// <summary>Output transforms of channels [oc0, oc1) of every image of the group into y (+ bias, ReLU, pool).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void OutputPhase<TVec>(in GroupLayout gl, float* pm, int oc0, int oc1) where TVec : struct, IConvVector<TVec>
        {
            ref readonly var p = ref P;
            int outPlane = TPool.Enabled ? (p.OH / 2) * (p.OW / 2) : p.OH * p.OW;
            var small = Conv2DScratch.WinogradTiles(SmallFloats(p));
            fixed (float* ps = small)
            {
                for (int b = 0; b < gl.Count; b++)
                for (int oc = oc0; oc < oc1; oc++)
                {
                    float* dst = Y + ((long)(gl.First + b) * p.OC + oc) * outPlane;
                    float* products = pm + (long)oc * gl.Stride + b * gl.TilesPerImage;
                    float bias = Bias == null ? 0f : Bias[oc];
                    if (TPool.Enabled) OutputTilePooled<TVec>(products, gl.MPlane, bias, dst, p, ps);
                    else OutputTile<TVec, TWrite>(products, gl.MPlane, bias, dst, p, ps);
                    // Fused ReLU forward: the plane just written is still in L1.
                    if (TRelu.Enabled) Conv2DReluKernels.BiasRelu(new ReadOnlySpan<float>(dst, outPlane), 0f, new Span<float>(dst, outPlane));
                }
            }
        }
    }

    /// <summary>One phase of a group shared by the threads: item i is a chunk of channels (0), a ξ (1) or a chunk of output channels (2).</summary>
    private struct SplitPhase<TRelu, TWrite, TPool, TVec> : IParallelBody
        where TRelu : struct, IReluFusion where TWrite : struct, IWriteMode where TPool : struct, IPoolFusion
        where TVec : struct, IConvVector<TVec>
    {
        public Body<TRelu, TWrite, TPool> Body;
        public GroupLayout Layout;
        public float* V, M;
        public int Phase, Chunk;

        public readonly void Execute(int index, int worker)
        {
            int start = index * Chunk;
            switch (Phase)
            {
                case 0: Body.InputPhase<TVec>(Layout, V, start, Math.Min(start + Chunk, Body.P.C)); break;
                case 1: Body.MultiplyPhase(Layout, V, M, index, index + 1); break;
                default: Body.OutputPhase<TVec>(Layout, M, start, Math.Min(start + Chunk, Body.P.OC)); break;
            }
        }
    }

    /// <summary>Floats of the per-thread small buffers: R planes (8), E and O, Z planes (4), one output row.</summary>
    private static int SmallFloats(in WinogradProblem p)
    {
        int rPlane = (p.TilesH + 1) * p.TilesW + Slack, zPlane = p.TilesPerImage + Slack;
        return 8 * rPlane + 2 * (p.TilesW + 1 + Slack) + 4 * zPlane + 2 * RoundUp(p.TilesW, 16) + Slack;
    }

    /// <summary>
    /// Where tile t of one channel lies in a V plane: panels of 2^shift tiles, panelStride floats apart (a channel's tiles
    /// of one panel side by side). Row-major V is the special case shift 5, panelStride 32: offset t.
    /// </summary>
    private readonly struct TileLayout(int panel, long panelStride, bool rowMajor = false)
    {
        private readonly int _shift = System.Numerics.BitOperations.Log2((uint)panel), _mask = panel - 1;
        private readonly long _panelStride = panelStride;

        public static TileLayout RowMajor => new(32, 32, rowMajor: true);

        /// <summary>Floats between consecutive channels' tile 0: the row stride, or one panel row.</summary>
        public long ChannelStride(int rowStride) => rowMajor ? rowStride : _mask + 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public long Offset(int t) => (t >> _shift) * _panelStride + (t & _mask);
    }

    /// <summary>
    /// line[0 .. 2·pairs) → first[0 .. pairs) (its even elements) and second[0 .. pairs) (its odd ones): TVec steps, then
    /// narrower ones — rows of 16×16 and smaller images are too short for a wide step — then scalar. The input transform
    /// (x rows) and the weight gradient's dY split share it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DeinterleaveRow<TVec>(float* line, int pairs, float* first, float* second) where TVec : struct, IConvVector<TVec>
    {
        int n = TVec.Count, k = 0;
        for (; k + n <= pairs; k += n)
        {
            TVec.Deinterleave(line + 2 * k, out var e, out var o);
            TVec.Store(first + k, e);
            TVec.Store(second + k, o);
        }
        if (n > 8)
            for (; k + 8 <= pairs; k += 8)
            {
                Vec256.Deinterleave(line + 2 * k, out var e, out var o);
                Vec256.Store(first + k, e);
                Vec256.Store(second + k, o);
            }
        if (n > 4)
            for (; k + 4 <= pairs; k += 4)
            {
                Vec128.Deinterleave(line + 2 * k, out var e, out var o);
                Vec128.Store(first + k, e);
                Vec128.Store(second + k, o);
            }
        for (; k < pairs; k++)
        {
            first[k] = line[2 * k];
            second[k] = line[2 * k + 1];
        }
    }

    /// <summary>
    /// One input plane src (H, W) → V entries of its tiles: v[ξ·vPlane + layout.Offset(t0 + t)] = (Bᵀ d B)[ξ] of flattened
    /// tile t (t = th·tilesW + tw), Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]. Writes up to a vector past the last tile
    /// (vector stores must not cross a panel of the layout: the caller checks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTile<TVec>(float* src, in WinogradProblem p, float* v, in TileLayout layout, int t0, long vPlane,
        float* scratch) where TVec : struct, IConvVector<TVec>
    {
        int tilesW = p.TilesW, tilesH = p.TilesH, n = TVec.Count;
        int rPlane = (tilesH + 1) * tilesW + Slack;
        float* r = scratch;                      // R[j][parity] (tilesH + 1, tilesW): 8 planes
        float* even = r + 8 * rPlane;            // E (tilesW + 1): padded row, even columns
        float* odd = even + tilesW + 1 + Slack;  // O (tilesW + 1): odd columns

        // Stage 1: row transform of every padded row 0..2·tilesH+1, stored by row parity.
        int pairs = p.W / 2, shift = p.PadLeft / 2;
        bool oddPad = (p.PadLeft & 1) != 0;
        float* firstTarget = oddPad ? odd + shift : even + shift, secondTarget = oddPad ? even + shift + 1 : odd + shift;
        for (int row = 0; row < 2 * tilesH + 2; row++)
        {
            int iy = row - p.PadTop;
            float* r0 = r + (row & 1) * rPlane + (row >> 1) * tilesW;
            var zero = TVec.Broadcast(0f);
            if (iy < 0 || iy >= p.H)
            {
                // Vector stores (rows are short: a memset call per row would cost more than the row).
                for (int j = 0; j < 4; j++)
                for (int k0 = 0; k0 < tilesW; k0 += n) TVec.Store(r0 + 2 * j * rPlane + k0, zero);
                continue;
            }
            for (int k0 = 0; k0 <= tilesW; k0 += n)
            {
                TVec.Store(even + k0, zero);
                TVec.Store(odd + k0, zero);
            }
            float* line = src + (long)iy * p.W;
            DeinterleaveRow<TVec>(line, pairs, firstTarget, secondTarget);
            if ((p.W & 1) != 0) firstTarget[pairs] = line[p.W - 1];

            for (int k = 0; k < tilesW; k += n)
            {
                var e0 = TVec.Load(even + k); var o0 = TVec.Load(odd + k);
                var e1 = TVec.Load(even + k + 1); var o1 = TVec.Load(odd + k + 1);
                TVec.Store(r0 + k, e0 - e1);
                TVec.Store(r0 + 2 * rPlane + k, o0 + e1);
                TVec.Store(r0 + 4 * rPlane + k, e1 - o0);
                TVec.Store(r0 + 6 * rPlane + k, o0 - o1);
            }
        }

        // Stage 2: column transform over flattened tiles: rows 2th..2th+3 are even[t], odd[t], even[t+tilesW], odd[t+tilesW].
        int tiles = tilesH * tilesW;
        for (int t = 0; t < tiles; t += n)
        {
            float* at = v + layout.Offset(t0 + t);
            for (int j = 0; j < 4; j++)
            {
                float* re = r + 2 * j * rPlane + t, ro = re + rPlane;
                var a0 = TVec.Load(re); var a1 = TVec.Load(ro);
                var a2 = TVec.Load(re + tilesW); var a3 = TVec.Load(ro + tilesW);
                TVec.Store(at + (0 + j) * vPlane, a0 - a2);
                TVec.Store(at + (4 + j) * vPlane, a1 + a2);
                TVec.Store(at + (8 + j) * vPlane, a2 - a1);
                TVec.Store(at + (12 + j) * vPlane, a1 - a3);
            }
        }
    }

    /// <summary>
    /// One output plane: m[ξ·mPlane + t] (16 products of flattened tile t) → dst (OH, OW) = Aᵀ m A + bias, Aᵀ = [1 1 1 0;
    /// 0 1 −1 −1], clipped at odd OH/OW; overwritten, or added to dst (TWrite).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTile<TVec, TWrite>(float* m, long mPlane, float bias, float* dst, in WinogradProblem p,
        float* scratch) where TVec : struct, IConvVector<TVec> where TWrite : struct, IWriteMode
    {
        int tilesW = p.TilesW, tilesH = p.TilesH, n = TVec.Count, tiles = tilesH * tilesW;
        int rPlane = (tilesH + 1) * tilesW + Slack, zPlane = tiles + Slack;
        float* z = scratch + 8 * rPlane + 2 * (tilesW + 1 + Slack); // Z[a][b] (tiles): 4 planes
        float* line = z + 4 * zPlane;                               // one interleaved output row

        var biasVector = TVec.Broadcast(bias);
        for (int t = 0; t < tiles; t += n)
        {
            TileOutputs(m + t, mPlane, biasVector, out var y00, out var y01, out var y10, out var y11);
            TVec.Store(z + t, y00);
            TVec.Store(z + zPlane + t, y01);
            TVec.Store(z + 2 * zPlane + t, y10);
            TVec.Store(z + 3 * zPlane + t, y11);
        }

        for (int th = 0; th < tilesH; th++)
        for (int a = 0; a < 2; a++)
        {
            int oy = 2 * th + a;
            if (oy >= p.OH) break;
            float* left = z + 2 * a * zPlane + th * tilesW, right = left + zPlane;
            for (int k = 0; k < tilesW; k += n)
                TVec.Interleave(TVec.Load(left + k), TVec.Load(right + k), line + 2 * k);
            CopyOrAdd<TVec, TWrite>(line, dst + (long)oy * p.OW, p.OW);
        }
    }

    /// <summary>
    /// The 2×2 outputs (+ bias) of the tiles at m[0 .. TVec.Count) from their 16 products (ξ planes mPlane apart):
    /// Aᵀ M A, Aᵀ = [1 1 1 0; 0 1 −1 −1] — rows first, s_a[j] = (Aᵀ m)[a][j], then columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileOutputs<TVec>(float* m, long mPlane, TVec bias, out TVec y00, out TVec y01, out TVec y10, out TVec y11)
        where TVec : struct, IConvVector<TVec>
    {
        var m0 = TVec.Load(m); var m1 = TVec.Load(m + mPlane);
        var m2 = TVec.Load(m + 2 * mPlane); var m3 = TVec.Load(m + 3 * mPlane);
        var m4 = TVec.Load(m + 4 * mPlane); var m5 = TVec.Load(m + 5 * mPlane);
        var m6 = TVec.Load(m + 6 * mPlane); var m7 = TVec.Load(m + 7 * mPlane);
        var m8 = TVec.Load(m + 8 * mPlane); var m9 = TVec.Load(m + 9 * mPlane);
        var m10 = TVec.Load(m + 10 * mPlane); var m11 = TVec.Load(m + 11 * mPlane);
        var m12 = TVec.Load(m + 12 * mPlane); var m13 = TVec.Load(m + 13 * mPlane);
        var m14 = TVec.Load(m + 14 * mPlane); var m15 = TVec.Load(m + 15 * mPlane);
        var s00 = m0 + m4 + m8; var s01 = m1 + m5 + m9; var s02 = m2 + m6 + m10; var s03 = m3 + m7 + m11;
        var s10 = m4 - m8 - m12; var s11 = m5 - m9 - m13; var s12 = m6 - m10 - m14; var s13 = m7 - m11 - m15;
        y00 = s00 + s01 + s02 + bias;
        y01 = s01 - s02 - s03 + bias;
        y10 = s10 + s11 + s12 + bias;
        y11 = s11 - s12 - s13 + bias;
    }

    /// <summary>
    /// One pooled output plane: as <see cref="OutputTile"/>, but each tile's 2×2 outputs (+ bias) reduce to their maximum,
    /// the 2×2, stride-2 max-pool of that window, so dst is (OH/2, OW/2) in flattened tile order (OH, OW even: no clipping).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTilePooled<TVec>(float* m, long mPlane, float bias, float* dst, in WinogradProblem p, float* scratch)
        where TVec : struct, IConvVector<TVec>
    {
        int tilesW = p.TilesW, tilesH = p.TilesH, n = TVec.Count, tiles = tilesH * tilesW;
        int rPlane = (tilesH + 1) * tilesW + Slack;
        float* z = scratch + 8 * rPlane + 2 * (tilesW + 1 + Slack); // one plane of pooled values (tiles + slack)

        var biasVector = TVec.Broadcast(bias);
        for (int t = 0; t < tiles; t += n)
        {
            // The unpooled transform's four outputs, bitwise, then their max.
            TileOutputs(m + t, mPlane, biasVector, out var y00, out var y01, out var y10, out var y11);
            TVec.Store(z + t, TVec.Max(TVec.Max(y00, y01), TVec.Max(y10, y11)));
        }
        CopyOrAdd<TVec, OverwriteOutput>(z, dst, tiles);
    }

    /// <summary>dst[0..count) = src (or += src), inlined in TVec, 256-, 128-bit and scalar steps: output rows are 8..32 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyOrAdd<TVec, TWrite>(float* src, float* dst, int count)
        where TVec : struct, IConvVector<TVec> where TWrite : struct, IWriteMode
    {
        int i = CopyOrAddSteps<TVec, TWrite>(src, dst, 0, count);
        if (TVec.Count > 8) i = CopyOrAddSteps<Vec256, TWrite>(src, dst, i, count);
        if (TVec.Count > 4) i = CopyOrAddSteps<Vec128, TWrite>(src, dst, i, count);
        if (TVec.Count > 1) CopyOrAddSteps<VecScalar, TWrite>(src, dst, i, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CopyOrAddSteps<TVec, TWrite>(float* src, float* dst, int i, int count)
        where TVec : struct, IConvVector<TVec> where TWrite : struct, IWriteMode
    {
        for (; i + TVec.Count <= count; i += TVec.Count)
            TVec.Store(dst + i, TWrite.Accumulate ? TVec.Load(dst + i) + TVec.Load(src + i) : TVec.Load(src + i));
        return i;
    }
}
