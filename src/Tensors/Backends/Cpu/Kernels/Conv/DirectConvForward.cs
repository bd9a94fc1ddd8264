using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// The stride-1 convolution forward without a column matrix (inference and the training forward). Each image is copied once into zero-padded planes
/// (C, Hp, Wp) with Hp = OH + KH − 1 and Wp = OW + KW − 1; row (c, ky, kx) of the column matrix im2col would build is that
/// copy shifted by c·Hp·Wp + ky·Wp + kx (<see cref="ConvPlan.DirectTaps"/>), so the product
/// (<see cref="SmallPatchGemm.RunShifted"/>) reads it in place: no column matrix to write and read back, no panels to pack,
/// and the padded image (20 KiB for 16 channels at 14×14 with a 5×5 kernel) stays in L1 while every output row is made
/// from it. Output rows are computed OW rounded up to the vector width wide (the extra lanes read the next row's padding
/// and are dropped), then bias, ReLU and a fused pool write y. Parallel over images; an image alone (a batch below the
/// thread count) is shared in bands of output rows. Each output is one multiply-add chain over the patch in order from
/// zero, so any split into images or bands gives the same bits.
/// </summary>
internal static unsafe class DirectConvForward
{
    /// <summary>
    /// Stride 1, not a plain 1×1 (whose image already is its column matrix), and padding that fits the padded copy (none
    /// negative: the image lies inside it).
    /// </summary>
    public static bool Supports(in ConvGeometry g) => g.StrideH == 1 && g.StrideW == 1 && !ConvPlan.IsPointwise(g)
        && g.PadTop >= 0 && g.PadLeft >= 0 && g.OH > 0 && g.OW > 0
        && PaddedHeight(g) >= g.PadTop + g.H && PaddedWidth(g) >= g.PadLeft + g.W;

    /// <summary>
    /// The geometry of dx as a direct forward: dx (N, C, H, W) = conv(dY (N, OC, OH, OW), rot180(Wᵀ)) with padding
    /// KH − 1 − PadTop, KW − 1 − PadLeft (a stride-1 convolution's input gradient is the full correlation of dY).
    /// </summary>
    public static ConvGeometry InputGradient(in ConvGeometry g) =>
        new(g.N, g.OC, g.OH, g.OW, g.C, g.KH, g.KW, 1, 1, g.KH - 1 - g.PadTop, g.KW - 1 - g.PadLeft, g.H, g.W);

    /// <summary>wFlipped (C, OC·KH·KW) = rot180(Wᵀ): the kernels of <see cref="InputGradient"/> from w (OC, C, KH, KW).</summary>
    public static void FlipWeights(float* w, in ConvGeometry g, float* flipped)
    {
        int taps = g.KH * g.KW;
        for (int c = 0; c < g.C; c++)
        for (int oc = 0; oc < g.OC; oc++)
        {
            float* from = w + ((long)oc * g.C + c) * taps;
            float* to = flipped + ((long)c * g.OC + oc) * taps;
            for (int t = 0; t < taps; t++) to[t] = from[taps - 1 - t];
        }
    }

    /// <summary>
    /// dx (N, C, H, W) (+)= the input gradient of a stride-1 convolution, directly: dY masked by the ReLU output where
    /// <paramref name="reluOutput"/> is given (the fused Conv2D + ReLU), accumulated into dx when TWrite says so.
    /// <paramref name="plan"/> is the plan of <see cref="InputGradient"/>'s geometry (a forward-only direct plan).
    /// </summary>
    public static void RunInputGradient<TWrite>(float* dy, float* w, float* reluOutput, float* dx, in ConvGeometry g, ConvPlan plan)
        where TWrite : struct, IWriteMode
    {
        var flipped = Conv2DScratch.DirectWeights(g.OC * g.PatchSize);
        fixed (float* pf = flipped)
        {
            FlipWeights(w, g, pf);
            Run<NoRelu, NoPool, TWrite>(dy, pf, null, dx, plan, default, VectorWidth.Auto, reluOutput);
        }
    }

    public static int PaddedHeight(in ConvGeometry g) => g.OH + g.KH - 1;

    public static int PaddedWidth(in ConvGeometry g) => g.OW + g.KW - 1;

    /// <summary>Floats of one image's padded copy followed by <paramref name="lanes"/> of slack (a row's last vector reads past it).</summary>
    public static int PaddedFloats(in ConvGeometry g, int lanes) => g.C * PaddedHeight(g) * PaddedWidth(g) + lanes;

    /// <summary>Columns computed per output row: OW rounded up to a multiple of <paramref name="lanes"/>.</summary>
    public static int RowWidth(in ConvGeometry g, int lanes) => (g.OW + lanes - 1) / lanes * lanes;

    /// <summary>Offset of row (c, ky, kx) of the virtual column matrix in the padded image, in the weights' order.</summary>
    public static int[] Taps(in ConvGeometry g)
    {
        int hp = PaddedHeight(g), wp = PaddedWidth(g), i = 0;
        var taps = GC.AllocateUninitializedArray<int>(g.PatchSize, pinned: true);
        for (int c = 0; c < g.C; c++)
        for (int ky = 0; ky < g.KH; ky++)
        for (int kx = 0; kx < g.KW; kx++)
            taps[i++] = (c * hp + ky) * wp + kx;
        return taps;
    }

    /// <summary>
    /// x (N, C, H, W), w (OC, C·KH·KW) as given, bias (OC) or null → y (N, OC, OH, OW), or the pooled planes when TPool
    /// (<paramref name="pool"/>: one output plane's pool).
    /// </summary>
    public static void Run<TRelu, TPool>(float* x, float* w, float* bias, float* y, ConvPlan plan, in PoolGeometry pool,
        VectorWidth width) where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion =>
        Run<TRelu, TPool, OverwriteOutput>(x, w, bias, y, plan, pool, width, null);

    /// <summary>
    /// As above; y accumulated instead of overwritten when TWrite says so (no pool then), and x masked on its way into the
    /// padded copy by <paramref name="inputMask"/> (x where mask &gt; 0, else 0) when given.
    /// </summary>
    private static void Run<TRelu, TPool, TWrite>(float* x, float* w, float* bias, float* y, ConvPlan plan, in PoolGeometry pool,
        VectorWidth width, float* inputMask) where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion where TWrite : struct, IWriteMode
    {
        var g = plan.Geometry;
        width = ConvVectors.Resolve(width, nameof(DirectConvForward));
        int lanes = ConvVectors.Lanes(width);
        fixed (int* taps = plan.DirectTaps)
        {
            var body = new Images<TRelu, TPool, TWrite>
            {
                X = x, InputMask = inputMask, W = w, Bias = bias, Y = y, G = g, Pool = pool, Taps = taps, Width = width,
                RowWidth = RowWidth(g, lanes), Slack = lanes,
            };
            if (ParallelFor.InsideParallel || plan.ForwardRowBands == 0)
            {
                ParallelFor.For(g.N, ref body);
                return;
            }
            // Fewer images than threads: each image padded once here, its bands of output rows shared by the threads.
            var bands = new Bands<TRelu, TPool, TWrite> { Body = body, Rows = TPool.Enabled ? pool.OH : g.OH };
            bands.RowsPerBand = (bands.Rows + plan.ForwardRowBands - 1) / plan.ForwardRowBands;
            int count = (bands.Rows + bands.RowsPerBand - 1) / bands.RowsPerBand;
            fixed (float* padded = Conv2DScratch.Columns(body.PaddedFloats))
            {
                bands.Padded = padded;
                for (bands.Image = 0; bands.Image < g.N; bands.Image++)
                {
                    body.Pad(bands.Image, padded);
                    ParallelFor.For(count, ref bands);
                }
            }
        }
    }

    /// <summary>
    /// One image (C, H, W) into zero-padded planes (C, Hp, Wp) followed by <paramref name="slack"/> zeros; masked on the
    /// way by <paramref name="mask"/> (the image where mask &gt; 0, else 0, as the fused ReLU's backward) when given.
    /// </summary>
    public static void PadImage(float* src, float* mask, in ConvGeometry g, float* padded, int slack)
    {
        int hp = PaddedHeight(g), wp = PaddedWidth(g), right = wp - g.PadLeft - g.W;
        float* dst = padded;
        for (int c = 0; c < g.C; c++)
        {
            new Span<float>(dst, g.PadTop * wp).Clear();
            dst += g.PadTop * wp;
            for (int r = 0; r < g.H; r++, src += g.W, dst += wp)
            {
                new Span<float>(dst, g.PadLeft).Clear();
                var row = new Span<float>(dst + g.PadLeft, g.W);
                if (mask == null) new ReadOnlySpan<float>(src, g.W).CopyTo(row);
                else
                {
                    Conv2DReluKernels.MaskGradient(new ReadOnlySpan<float>(mask, g.W), new ReadOnlySpan<float>(src, g.W), row);
                    mask += g.W;
                }
                new Span<float>(dst + g.PadLeft + g.W, right).Clear();
            }
            int bottom = hp - g.PadTop - g.H;
            new Span<float>(dst, bottom * wp).Clear();
            dst += bottom * wp;
        }
        new Span<float>(dst, slack).Clear();
    }

    private struct Images<TRelu, TPool, TWrite> : IParallelBody
        where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion where TWrite : struct, IWriteMode
    {
        public float* X, W, Bias, Y;
        /// <summary>A ReLU output masking x on its way into the padded copy (the fused ReLU's dx), or null.</summary>
        public float* InputMask;
        public int* Taps;
        public ConvGeometry G;
        public PoolGeometry Pool;
        public VectorWidth Width;
        /// <summary>Columns computed per output row: OW rounded up to the vector width.</summary>
        public int RowWidth;
        /// <summary>Floats past the padded image that a row's last vector may read (its dropped lanes).</summary>
        public int Slack;

        public readonly int PaddedFloats => DirectConvForward.PaddedFloats(G, Slack);

        public readonly void Execute(int image, int worker)
        {
            fixed (float* padded = Conv2DScratch.Columns(PaddedFloats))
            {
                Pad(image, padded);
                Band(padded, image, 0, TPool.Enabled ? Pool.OH : G.OH);
            }
        }

        /// <summary>Image <paramref name="image"/> into zero-padded planes (C, Hp, Wp), plus zeroed slack.</summary>
        public readonly void Pad(int image, float* padded)
        {
            long offset = (long)image * G.C * G.H * G.W;
            PadImage(X + offset, InputMask == null ? null : InputMask + offset, G, padded, Slack);
        }

        /// <summary>
        /// Output rows [r0, r1) of one image (pooled rows with a fused pool: the convolution rows their windows cover) from
        /// its padded copy, on this thread: the product into scratch, then pool, bias and ReLU into y.
        /// </summary>
        public readonly void Band(float* padded, int image, int r0, int r1)
        {
            ref readonly var g = ref G;
            int c0 = TPool.Enabled ? r0 * Pool.StrideH : r0;
            int c1 = TPool.Enabled ? (r1 - 1) * Pool.StrideH + Pool.KH : r1;
            int n = (c1 - c0) * RowWidth, rows = r1 - r0;
            int pooledWidth = TPool.Enabled ? (RowWidth - Pool.KW) / Pool.StrideW + 1 : 0;
            var scratch = Conv2DScratch.Outputs(g.OC * n + (TPool.Enabled ? g.OC * rows * pooledWidth : 0));
            fixed (float* result = scratch)
            {
                int wp = PaddedWidth(g);
                SmallPatchGemm.RunShifted(W, g.OC, g.PatchSize, padded + c0 * wp, Taps, RowWidth, wp - RowWidth, n,
                    result, n, Width);
                float* src = result;
                int srcRow = RowWidth, srcPlane = n, width = g.OW, plane = g.OutputPixels;
                if (TPool.Enabled)
                {
                    // Pool the computed rows as they are (their dropped lanes only reach windows past the pooled width).
                    src = result + (long)g.OC * n;
                    srcRow = pooledWidth;
                    srcPlane = rows * pooledWidth;
                    MaxPoolKernel.Forward(new ReadOnlySpan<float>(result, g.OC * n), new Span<float>(src, g.OC * srcPlane),
                        Pool with { C = g.OC, H = c1 - c0, W = RowWidth, OH = rows, OW = pooledWidth });
                    width = Pool.OW;
                    plane = Pool.OH * Pool.OW;
                }
                // Rows computed as wide as they are stored (OW a multiple of the vector width) form one run a channel:
                // one epilogue call instead of one a row.
                int runs = srcRow == width ? 1 : rows, run = srcRow == width ? rows * width : width;
                for (int oc = 0; oc < g.OC; oc++)
                {
                    float* from = src + (long)oc * srcPlane;
                    float* to = Y + ((long)image * g.OC + oc) * plane + (long)r0 * width;
                    float b = Bias == null ? 0f : Bias[oc];
                    for (int r = 0; r < runs; r++, from += srcRow, to += width)
                    {
                        var dst = new Span<float>(to, run);
                        var values = new ReadOnlySpan<float>(from, run);
                        if (TRelu.Enabled) Conv2DReluKernels.BiasRelu(values, b, dst);
                        else if (TWrite.Accumulate) TensorPrimitives.Add(dst, values, dst); // dx: no bias
                        else if (Bias != null) TensorPrimitives.Add(values, b, dst);
                        else values.CopyTo(dst);
                    }
                }
            }
        }
    }

    /// <summary>One padded image's bands of output rows, one item each.</summary>
    private struct Bands<TRelu, TPool, TWrite> : IParallelBody
        where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion where TWrite : struct, IWriteMode
    {
        public Images<TRelu, TPool, TWrite> Body;
        public float* Padded;
        public int Image, RowsPerBand, Rows;

        public readonly void Execute(int index, int worker)
        {
            int r0 = index * RowsPerBand;
            Body.Band(Padded, Image, r0, Math.Min(Rows, r0 + RowsPerBand));
        }
    }
}
