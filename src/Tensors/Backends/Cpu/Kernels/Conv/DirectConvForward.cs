using System.Numerics.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// The stride-1 convolution forward without a column matrix (inference). Each image is copied once into zero-padded planes
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
    /// <summary>Stride 1 and not a plain 1×1 (whose image already is its column matrix).</summary>
    public static bool Supports(in ConvGeometry g) => g.StrideH == 1 && g.StrideW == 1 && !ConvPlan.IsPointwise(g);

    public static int PaddedHeight(in ConvGeometry g) => g.OH + g.KH - 1;

    public static int PaddedWidth(in ConvGeometry g) => g.OW + g.KW - 1;

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
        ConvVectorWidth width) where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        var g = plan.Geometry;
        width = ConvVectors.Resolve(width, nameof(DirectConvForward));
        int lanes = ConvVectors.Lanes(width);
        fixed (int* taps = plan.DirectTaps)
        {
            var body = new Images<TRelu, TPool>
            {
                X = x, W = w, Bias = bias, Y = y, G = g, Pool = pool, Taps = taps, Width = width,
                RowWidth = (g.OW + lanes - 1) / lanes * lanes, PaddedHeight = PaddedHeight(g), PaddedWidth = PaddedWidth(g),
                Slack = lanes,
            };
            if (ParallelFor.InsideParallel || plan.ForwardRowBands == 0)
            {
                ParallelFor.For(g.N, ref body);
                return;
            }
            // Fewer images than threads: each image padded once here, its bands of output rows shared by the threads.
            var bands = new Bands<TRelu, TPool> { Body = body, Rows = TPool.Enabled ? pool.OH : g.OH };
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

    private struct Images<TRelu, TPool> : IParallelBody where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        public float* X, W, Bias, Y;
        public int* Taps;
        public ConvGeometry G;
        public PoolGeometry Pool;
        public ConvVectorWidth Width;
        /// <summary>Columns computed per output row: OW rounded up to the vector width.</summary>
        public int RowWidth;
        public int PaddedHeight, PaddedWidth;
        /// <summary>Floats past the padded image that a row's last vector may read (its dropped lanes).</summary>
        public int Slack;

        public readonly int PaddedFloats => G.C * PaddedHeight * PaddedWidth + Slack;

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
            ref readonly var g = ref G;
            int hp = PaddedHeight, wp = PaddedWidth, right = wp - g.PadLeft - g.W;
            float* src = X + (long)image * g.C * g.H * g.W;
            float* dst = padded;
            for (int c = 0; c < g.C; c++)
            {
                new Span<float>(dst, g.PadTop * wp).Clear();
                dst += g.PadTop * wp;
                for (int r = 0; r < g.H; r++, src += g.W, dst += wp)
                {
                    new Span<float>(dst, g.PadLeft).Clear();
                    new ReadOnlySpan<float>(src, g.W).CopyTo(new Span<float>(dst + g.PadLeft, g.W));
                    new Span<float>(dst + g.PadLeft + g.W, right).Clear();
                }
                int bottom = hp - g.PadTop - g.H;
                new Span<float>(dst, bottom * wp).Clear();
                dst += bottom * wp;
            }
            new Span<float>(dst, Slack).Clear();
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
                SmallPatchGemm.RunShifted(W, g.OC, g.PatchSize, padded + c0 * PaddedWidth, Taps, RowWidth, PaddedWidth - RowWidth, n,
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
                for (int oc = 0; oc < g.OC; oc++)
                {
                    float* from = src + (long)oc * srcPlane;
                    float* to = Y + ((long)image * g.OC + oc) * plane + (long)r0 * width;
                    float b = Bias == null ? 0f : Bias[oc];
                    for (int row = 0; row < rows; row++, from += srcRow, to += width)
                    {
                        var dst = new Span<float>(to, width);
                        var values = new ReadOnlySpan<float>(from, width);
                        if (TRelu.Enabled) Conv2DReluKernels.BiasRelu(values, b, dst);
                        else if (Bias != null) TensorPrimitives.Add(values, b, dst);
                        else values.CopyTo(dst);
                    }
                }
            }
        }
    }

    /// <summary>One padded image's bands of output rows, one item each.</summary>
    private struct Bands<TRelu, TPool> : IParallelBody where TRelu : struct, IReluFusion where TPool : struct, IPoolFusion
    {
        public Images<TRelu, TPool> Body;
        public float* Padded;
        public int Image, RowsPerBand, Rows;

        public readonly void Execute(int index, int worker)
        {
            int r0 = index * RowsPerBand;
            Body.Band(Padded, Image, r0, Math.Min(Rows, r0 + RowsPerBand));
        }
    }
}
