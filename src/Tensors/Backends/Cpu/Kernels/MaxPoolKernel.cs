using System.Runtime.CompilerServices;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// 2-D max pooling, no padding (see <see cref="PoolGeometry"/>). Every (n, c) plane is independent, so big tensors split by plane.
///
/// The maximum and the tie rule, identical on every backend and every vector width:
/// - forward: y = the IEEE 754-2019 maximum of the window (what MathF.Max and Vector*.Max compute): a NaN anywhere in the
///   window makes y NaN (as PyTorch does; a NaN is never silently dropped), and +0 counts above −0;
/// - backward: the whole dy goes to ONE element, recomputed from x: the first NaN of the window in row-major order if there is
///   one, else the first element equal to the maximum (−0 == +0, so the first zero of a zero window). Equal values therefore
///   never split a gradient, and the choice does not depend on vector width or threads.
/// - dx ← dx + G (accumulating) or dx ← G (a fresh gradient), G the pool's whole input gradient, G_i = +0 + the dy routed to
///   element i (in window order where windows overlap): +0 where nothing is routed and for a routed −0, so a −0 in dx that
///   receives nothing becomes +0 — as dx + G does in PyTorch and on the GPU backend.
///
///   Where windows overlap, dx + 0 is formed first and each routed dy is then added in window order (row-major over the
///   output), so the sums round the same way at every width and on any number of threads.
///
/// Every path is written once over <see cref="IPoolVector{TSelf}"/> and specialised by the JIT for Vector512, Vector256,
/// Vector128 and plain floats (the scalar width is the same source with one lane; plain scalar references live in the tests):
/// - 2×2 stride 2, the pool every study uses: vertical max, then the max of each horizontal pair (backward: de-interleaved
///   windows, first-match masks, dy interleaved back and written with vector stores — the windows tile dx);
/// - any other window and stride: a vector holds Count consecutive windows of one output row, read column by column through
///   an <see cref="IColumnReader"/> chosen by the horizontal stride — stride 1 loads the column directly (lane l =
///   x[.., ox + l + kx]), stride 2 loads 2·Count floats, takes the max over the window's rows, then de-interleaves them into
///   columns kx and kx + 1, stride 3 and more gathers (two 256-bit gathers at 512 bits; four loads on NEON). The forward is
///   the IEEE maximum over the window's columns. The backward finds each window's element vector-wise in one row-major scan
///   (a later element replaces the kept one only if it is larger or the window's first NaN), keeps its offset per lane, and adds the dy scalar,
///   window after window: overlapping windows can route to the same dx element, and a vector add per window column would
///   change the order of those sums. A row's last windows are masked loads/stores where the hardware has them (AVX, AVX-512),
///   else one window at a time through the same source with one lane.
/// </summary>
public static unsafe class MaxPoolKernel
{
    /// <summary>x (N, C, H, W) → y (N, C, OH, OW).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, in PoolGeometry g) => Forward(x, y, g, VectorWidth.Auto);

    /// <summary>
    /// x (N, C, H, W), dy (N, C, OH, OW) → dx (N, C, H, W) += dy routed to each window's chosen maximum; with
    /// <paramref name="accumulate"/> false, dx = that instead (its old contents are never read: a fresh gradient needs no
    /// zero fill, and the 2×2 pool of even sides then writes dx without reading it).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, in PoolGeometry g, bool accumulate = true) =>
        Backward(x, dy, dx, g, accumulate, VectorWidth.Auto);

    /// <summary>The widest width this machine runs.</summary>
    internal static VectorWidth BestWidth { get; } = VectorWidths.Widest(IsSupported);

    internal static bool IsSupported(VectorWidth width) => width switch
    {
        VectorWidth.Auto or VectorWidth.Scalar => true,
        VectorWidth.Vector512 => PoolVec512.IsSupported,
        VectorWidth.Vector256 => PoolVec256.IsSupported,
        VectorWidth.Vector128 => PoolVec128.IsSupported,
        _ => false,
    };

    internal static void Forward(ReadOnlySpan<float> x, Span<float> y, in PoolGeometry g, VectorWidth width)
    {
        if (x.Length != g.InputShape.Size || y.Length != g.OutputShape.Size)
            throw new ArgumentException($"MaxPoolKernel.Forward: x must hold {g.InputShape} and y {g.OutputShape}.");
        width = Resolve(width);
        fixed (float* px = x, py = y)
        {
            var kernel = new ForwardPlanes { X = px, Y = py, G = g, Width = width };
            RangeParallel.For(g.N * g.C, RangeParallel.GrainFor(g.H * g.W), x.Length, ref kernel);
        }
    }

    internal static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, in PoolGeometry g, bool accumulate,
        VectorWidth width)
    {
        if (x.Length != g.InputShape.Size || dx.Length != x.Length || dy.Length != g.OutputShape.Size)
            throw new ArgumentException($"MaxPoolKernel.Backward: x and dx must hold {g.InputShape} and dy {g.OutputShape}.");
        width = Resolve(width);
        fixed (float* px = x, pdy = dy, pdx = dx)
        {
            var kernel = new BackwardPlanes { X = px, Dy = pdy, Dx = pdx, G = g, Accumulate = accumulate, Width = width };
            RangeParallel.For(g.N * g.C, RangeParallel.GrainFor(g.H * g.W), x.Length, ref kernel);
        }
    }

    private static VectorWidth Resolve(VectorWidth width)
    {
        if (width == VectorWidth.Auto) return BestWidth;
        if (!IsSupported(width)) throw new PlatformNotSupportedException($"MaxPoolKernel: {width} is not supported on this machine.");
        return width;
    }

    private static bool Is2x2Stride2(in PoolGeometry g) => g.KH == 2 && g.KW == 2 && g.StrideH == 2 && g.StrideW == 2;

    // ------------------------------------------------------------------ dispatch: once per chunk of planes

    private struct ForwardPlanes : IRangeKernel
    {
        public float* X, Y;
        public PoolGeometry G;
        public VectorWidth Width;

        public readonly void Run(int start, int end)
        {
            var step = new Step(this, start, end);
            PoolVectors.Run(Width, ref step);
        }

        private readonly struct Step(ForwardPlanes body, int start, int end) : IPoolVectorStep
        {
            public void Run<TVec>() where TVec : struct, IPoolVector<TVec> => body.Planes<TVec>(start, end);
        }

        private readonly void Planes<TVec>(int start, int end) where TVec : struct, IPoolVector<TVec>
        {
            if (Is2x2Stride2(G))
            {
                int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
                for (int plane = start; plane < end; plane++)
                    Forward2x2<TVec>(X + (long)plane * inPlane, Y + (long)plane * outPlane, G.W, G.OH, G.OW);
            }
            else if (G.StrideW == 1) AnyPlanes<TVec, UnitStride>(start, end);
            else if (G.StrideW == 2) AnyPlanes<TVec, DoubleStride>(start, end);
            else AnyPlanes<TVec, AnyStride>(start, end);
        }

        private readonly void AnyPlanes<TVec, TReader>(int start, int end) where TVec : struct, IPoolVector<TVec> where TReader : struct, IColumnReader
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            for (int plane = start; plane < end; plane++)
                ForwardAny<TVec, TReader>(X + (long)plane * inPlane, Y + (long)plane * outPlane, G);
        }
    }

    private struct BackwardPlanes : IRangeKernel
    {
        public float* X, Dy, Dx;
        public PoolGeometry G;
        public bool Accumulate;
        public VectorWidth Width;

        public readonly void Run(int start, int end)
        {
            // Overwriting without a read needs every dx element under exactly one window: a 2×2 stride-2 pool of even sides.
            // Otherwise each plane is cleared first (in cache, just before use) and accumulated into.
            bool overwrite = !Accumulate && Is2x2Stride2(G) && G.H == 2 * G.OH && G.W == 2 * G.OW;
            if (overwrite) Widths<Overwrite>(start, end);
            else Widths<Accumulate>(start, end);
        }

        private readonly void Widths<TMode>(int start, int end) where TMode : struct, IWriteMode
        {
            var step = new Step<TMode>(this, start, end);
            PoolVectors.Run(Width, ref step);
        }

        private readonly struct Step<TMode>(BackwardPlanes body, int start, int end) : IPoolVectorStep where TMode : struct, IWriteMode
        {
            public void Run<TVec>() where TVec : struct, IPoolVector<TVec> => body.Planes<TVec, TMode>(start, end);
        }

        private readonly void Planes<TVec, TMode>(int start, int end) where TVec : struct, IPoolVector<TVec> where TMode : struct, IWriteMode
        {
            if (Is2x2Stride2(G)) Planes2x2<TVec, TMode>(start, end);
            else if (G.StrideW == 1) AnyPlanes<TVec, UnitStride>(start, end);
            else if (G.StrideW == 2) AnyPlanes<TVec, DoubleStride>(start, end);
            else AnyPlanes<TVec, AnyStride>(start, end);
        }

        private readonly void Planes2x2<TVec, TMode>(int start, int end) where TVec : struct, IPoolVector<TVec> where TMode : struct, IWriteMode
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            for (int plane = start; plane < end; plane++)
            {
                long inOffset = (long)plane * inPlane;
                float* x = X + inOffset, dx = Dx + inOffset, dy = Dy + (long)plane * outPlane;
                if (TMode.Accumulates && !Accumulate) new Span<float>(dx, inPlane).Clear();
                Backward2x2<TVec, TMode>(x, dy, dx, G.H, G.W, G.OH, G.OW);
            }
        }

        // Any other window: dx + 0 (or a cleared plane) first, in cache just before use, then the routed dy added in window order.
        private readonly void AnyPlanes<TVec, TReader>(int start, int end) where TVec : struct, IPoolVector<TVec> where TReader : struct, IColumnReader
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            for (int plane = start; plane < end; plane++)
            {
                long inOffset = (long)plane * inPlane;
                float* x = X + inOffset, dx = Dx + inOffset, dy = Dy + (long)plane * outPlane;
                if (Accumulate) AddZero<TVec>(dx, inPlane);
                else new Span<float>(dx, inPlane).Clear();
                BackwardAny<TVec, TReader>(x, dy, dx, G);
            }
        }
    }

    // How the backward writes dx: += (any geometry), or = (2×2 stride 2 with even sides, where the windows tile dx).
    private interface IWriteMode
    {
        static abstract bool Accumulates { get; }
    }

    private readonly struct Accumulate : IWriteMode
    {
        public static bool Accumulates => true;
    }

    private readonly struct Overwrite : IWriteMode
    {
        public static bool Accumulates => false;
    }

    // How a block reads and writes memory: whole vectors, or only the first lanes (the last windows of a row), the other
    // lanes read as 0 and never touched — so a partial block never reads or writes outside its row.
    private interface IBlockAccess
    {
        static abstract TVec Load<TVec>(float* p, int lanes) where TVec : struct, IPoolVector<TVec>;
        static abstract void Store<TVec>(float* p, TVec value, int lanes) where TVec : struct, IPoolVector<TVec>;
    }

    private readonly struct WholeVectors : IBlockAccess
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVec Load<TVec>(float* p, int lanes) where TVec : struct, IPoolVector<TVec> => TVec.Load(p);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store<TVec>(float* p, TVec value, int lanes) where TVec : struct, IPoolVector<TVec> => TVec.Store(p, value);
    }

    private readonly struct FirstLanes : IBlockAccess
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TVec Load<TVec>(float* p, int lanes) where TVec : struct, IPoolVector<TVec> => TVec.LoadFirst(p, lanes);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store<TVec>(float* p, TVec value, int lanes) where TVec : struct, IPoolVector<TVec> => TVec.StoreFirst(p, value, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TVec, TAccess, TMode>(float* at, TVec value, int lanes)
        where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess where TMode : struct, IWriteMode
    {
        if (TMode.Accumulates) TAccess.Store(at, TAccess.Load<TVec>(at, lanes) + value, lanes);
        else TAccess.Store(at, value, lanes);
    }

    // ------------------------------------------------------------------ 2×2, stride 2, one source for every width

    // A block is Count windows: (top0, top1) and (bottom0, bottom1) are 2·Count consecutive inputs each of the window's top
    // and bottom rows, in two vectors (one row's block: top1 = top0 + Count; two output rows at once: top1 is the next
    // output row's top row). The Count outputs (or gradients) are contiguous. lanesLow/lanesHigh/windows: the lanes in use
    // of (top0, bottom0), (top1, bottom1) and the output, for a partial block (FirstLanes); ignored by WholeVectors.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForwardBlock<TVec, TAccess>(float* top0, float* top1, float* bottom0, float* bottom1, float* y,
        int lanesLow, int lanesHigh, int windows) where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess
    {
        // Vertical max first (elementwise), then the max of each horizontal pair.
        var low = TVec.Max(TAccess.Load<TVec>(top0, lanesLow), TAccess.Load<TVec>(bottom0, lanesLow));
        var high = TVec.Max(TAccess.Load<TVec>(top1, lanesHigh), TAccess.Load<TVec>(bottom1, lanesHigh));
        TAccess.Store(y, TVec.MaxOfPairs(low, high), windows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardBlock<TVec, TAccess, TMode>(float* x, float* dx, long top0, long top1, long bottom0, long bottom1, float* dy,
        int lanesLow, int lanesHigh, int windows)
        where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess where TMode : struct, IWriteMode
    {
        // The four elements of each window, in row-major window order (offsets are the same in x and dx).
        TVec.Deinterleave(TAccess.Load<TVec>(x + top0, lanesLow), TAccess.Load<TVec>(x + top1, lanesHigh), out var topLeft, out var topRight);
        TVec.Deinterleave(TAccess.Load<TVec>(x + bottom0, lanesLow), TAccess.Load<TVec>(x + bottom1, lanesHigh), out var bottomLeft, out var bottomRight);
        var max = TVec.Max(TVec.Max(topLeft, topRight), TVec.Max(bottomLeft, bottomRight));
        // First match wins; a window whose first three do not match takes its fourth (the max is one of them).
        var takeTopLeft = TVec.Matches(topLeft, max);
        var takeTopRight = TVec.AndNot(TVec.Matches(topRight, max), takeTopLeft);
        var taken = takeTopLeft | takeTopRight;
        var takeBottomLeft = TVec.AndNot(TVec.Matches(bottomLeft, max), taken);
        // + 0: a −0 gradient routes as +0, what G = 0 + dy gives everywhere else (the general path, the GPU, PyTorch).
        var grad = TAccess.Load<TVec>(dy, windows) + TVec.Zero;
        TVec.Interleave(grad & takeTopLeft, grad & takeTopRight, out var dTop0, out var dTop1);
        TVec.Interleave(grad & takeBottomLeft, TVec.AndNot(grad, taken | takeBottomLeft), out var dBottom0, out var dBottom1);
        Put<TVec, TAccess, TMode>(dx + top0, dTop0, lanesLow);
        Put<TVec, TAccess, TMode>(dx + top1, dTop1, lanesHigh);
        Put<TVec, TAccess, TMode>(dx + bottom0, dBottom0, lanesLow);
        Put<TVec, TAccess, TMode>(dx + bottom1, dBottom1, lanesHigh);
    }

    // x plane (H, W) → y plane (OH, OW). Output row r reads input rows 2r and 2r + 1; a whole block at column c reads
    // inputs 2c .. 2c + 2·Count − 1 ≤ 2·OW − 1 < W, so whole-vector loads never leave the row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward2x2<TVec>(float* x, float* y, int w, int oh, int ow) where TVec : struct, IPoolVector<TVec>
    {
        int count = TVec.Count, r = 0;
        // Half-a-vector-wide outputs (8 of 16×16 on AVX-512, 4 on AVX2, 2 on 128 bits): two output rows fill one block.
        if (count > 1 && ow == count / 2)
        {
            for (; r + 1 < oh; r += 2)
            {
                float* top0 = x + (long)2 * r * w, top1 = top0 + 2L * w;
                ForwardBlock<TVec, WholeVectors>(top0, top1, top0 + w, top1 + w, y + (long)r * ow, count, count, count);
            }
        }
        for (; r < oh; r++)
        {
            float* top = x + (long)2 * r * w, bottom = top + w, o = y + (long)r * ow;
            int c = 0;
            for (; c <= ow - count; c += count)
                ForwardBlock<TVec, WholeVectors>(top + 2 * c, top + 2 * c + count, bottom + 2 * c, bottom + 2 * c + count, o + c, count, count, count);
            int rest = ow - c;
            if (rest == 0) continue;
            if (TVec.HasMaskedAccess)
                ForwardBlock<TVec, FirstLanes>(top + 2 * c, top + 2 * c + count, bottom + 2 * c, bottom + 2 * c + count, o + c,
                    2 * rest, 2 * rest - count, rest);
            else
                for (; c < ow; c++)
                    ForwardBlock<PoolVecScalar, WholeVectors>(top + 2 * c, top + 2 * c + 1, bottom + 2 * c, bottom + 2 * c + 1, o + c, 1, 1, 1);
        }
    }

    // dx plane (H, W) += (or =) dy plane (OH, OW) at each window's chosen element (see the class comment for the rule).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Backward2x2<TVec, TMode>(float* x, float* dy, float* dx, int h, int w, int oh, int ow)
        where TVec : struct, IPoolVector<TVec> where TMode : struct, IWriteMode
    {
        int count = TVec.Count, r = 0;
        if (count > 1 && ow == count / 2)
        {
            // Two output rows per block: measured 6–9× faster than one masked half-empty vector per row (AVX-512, 64×16×16).
            for (; r + 1 < oh; r += 2)
            {
                long top0 = (long)2 * r * w, top1 = top0 + 2L * w;
                BackwardBlock<TVec, WholeVectors, TMode>(x, dx, top0, top1, top0 + w, top1 + w, dy + (long)r * ow, count, count, count);
            }
        }
        for (; r < oh; r++)
        {
            long top = (long)2 * r * w, bottom = top + w;
            float* g = dy + (long)r * ow;
            int c = 0;
            for (; c <= ow - count; c += count)
                BackwardBlock<TVec, WholeVectors, TMode>(x, dx, top + 2 * c, top + 2 * c + count, bottom + 2 * c, bottom + 2 * c + count, g + c,
                    count, count, count);
            int rest = ow - c;
            if (rest == 0) continue;
            // The last < Count windows: masked where the hardware can (no data-dependent branches), else one window at a time.
            if (TVec.HasMaskedAccess)
                BackwardBlock<TVec, FirstLanes, TMode>(x, dx, top + 2 * c, top + 2 * c + count, bottom + 2 * c, bottom + 2 * c + count, g + c,
                    2 * rest, 2 * rest - count, rest);
            else
                for (; c < ow; c++)
                    BackwardBlock<PoolVecScalar, WholeVectors, TMode>(x, dx, top + 2 * c, top + 2 * c + 1, bottom + 2 * c, bottom + 2 * c + 1, g + c, 1, 1, 1);
        }
        // dx + G: the elements under no window (an odd last column or row) still get G's +0, like the rest.
        if (TMode.Accumulates)
        {
            if (w > 2 * ow)
                for (long row = 0; row < 2 * oh; row++)
                    for (int col = 2 * ow; col < w; col++) dx[row * w + col] += 0f;
            for (long i = (long)2 * oh * w; i < (long)h * w; i++) dx[i] += 0f;
        }
    }

    // ------------------------------------------------------------------ any window, any stride, one source for every width

    // A block is Count consecutive windows of one output row (fewer at the row's end). Output lane l is window ox + l, whose
    // column kx of input row ky is x[(oy·SH + ky)·W + (ox + l)·SW + kx]: a column reader turns one input row's columns
    // into vectors of those lanes for the horizontal stride. Every kernel below reads no float outside the window's rows.

    /// <summary>Window column kx of a block's Count windows, for one horizontal stride (what each lane reads: p + lane·stride).</summary>
    private interface IColumnReader
    {
        /// <summary>Window columns one <see cref="Read"/> yields: 2 where a de-interleave gives kx and kx + 1 at once.</summary>
        static abstract int ColumnsPerRead { get; }

        /// <summary>One past the last input column whole-vector reads of the block at output column <paramref name="ox"/> touch.</summary>
        static abstract long ReadEnd(int ox, int count, int kw, int stride);

        /// <summary>
        /// first = the max over <paramref name="rows"/> input rows (<paramref name="rowStride"/> apart) of the block's column
        /// at <paramref name="p"/>, second = of the next column (readers with <see cref="ColumnsPerRead"/> 2, else unused).
        /// <paramref name="left"/>: floats of the row from p on (masked tails); <paramref name="offsets"/>: the gather's lane offsets.
        /// </summary>
        static abstract void Read<TVec, TAccess>(float* p, int left, long rowStride, int rows, TVec offsets, out TVec first, out TVec second)
            where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess;
    }

    /// <summary>Stride 1: the block's column is Count consecutive floats.</summary>
    private readonly struct UnitStride : IColumnReader
    {
        public static int ColumnsPerRead => 1;
        public static long ReadEnd(int ox, int count, int kw, int stride) => (long)ox + count - 1 + kw;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Read<TVec, TAccess>(float* p, int left, long rowStride, int rows, TVec offsets, out TVec first, out TVec second)
            where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess
        {
            first = TAccess.Load<TVec>(p, left);
            for (int r = 1; r < rows; r++) first = TVec.Max(first, TAccess.Load<TVec>(p + r * rowStride, left));
            second = default;
        }
    }

    /// <summary>
    /// Stride 2: 2·Count consecutive floats, their even elements the column at p and their odd ones the next column; the
    /// vertical max is taken before the (shuffling) de-interleave, one per two window columns.
    /// </summary>
    private readonly struct DoubleStride : IColumnReader
    {
        public static int ColumnsPerRead => 2;

        // The last read starts at the window's last even column (kw − 1 rounded down to even) and is 2·Count long: for an odd
        // kw its last float lies one past the last window's last column, so the row's last block may need the masked tail.
        public static long ReadEnd(int ox, int count, int kw, int stride) => 2L * ox + ((kw - 1) & ~1) + 2L * count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Read<TVec, TAccess>(float* p, int left, long rowStride, int rows, TVec offsets, out TVec first, out TVec second)
            where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess
        {
            int count = TVec.Count;
            var low = TAccess.Load<TVec>(p, left);
            var high = TAccess.Load<TVec>(p + count, left - count);
            for (int r = 1; r < rows; r++)
            {
                float* row = p + r * rowStride;
                low = TVec.Max(low, TAccess.Load<TVec>(row, left));
                high = TVec.Max(high, TAccess.Load<TVec>(row + count, left - count));
            }
            TVec.Deinterleave(low, high, out first, out second);
        }
    }

    /// <summary>Stride 3 and more: a gather at lane offsets l·stride (clamped to the block's last window in a tail, so never past the row).</summary>
    private readonly struct AnyStride : IColumnReader
    {
        public static int ColumnsPerRead => 1;
        public static long ReadEnd(int ox, int count, int kw, int stride) => (long)(ox + count - 1) * stride + kw;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Read<TVec, TAccess>(float* p, int left, long rowStride, int rows, TVec offsets, out TVec first, out TVec second)
            where TVec : struct, IPoolVector<TVec> where TAccess : struct, IBlockAccess
        {
            first = TVec.Gather(p, offsets);
            for (int r = 1; r < rows; r++) first = TVec.Max(first, TVec.Gather(p + r * rowStride, offsets));
            second = default;
        }
    }

    /// <summary>The IEEE maximum of each window of a block (<paramref name="at"/>: the first window's origin, <paramref name="left"/> floats of its row from there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec WindowMax<TVec, TReader, TAccess>(float* at, int left, int w, int kh, int kw, TVec offsets)
        where TVec : struct, IPoolVector<TVec> where TReader : struct, IColumnReader where TAccess : struct, IBlockAccess
    {
        var max = TVec.Broadcast(float.NegativeInfinity); // the identity of the IEEE maximum (−∞ < −0; NaN still wins)
        for (int kx = 0; kx < kw; kx += TReader.ColumnsPerRead)
        {
            TReader.Read<TVec, TAccess>(at + kx, left - kx, w, kh, offsets, out var first, out var second);
            max = TVec.Max(max, first);
            if (TReader.ColumnsPerRead == 2 && kx + 1 < kw) max = TVec.Max(max, second);
        }
        return max;
    }

    // x plane (H, W) → y plane (OH, OW): whole blocks, then the row's last windows (masked, or one at a time without masks).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardAny<TVec, TReader>(float* x, float* y, in PoolGeometry g)
        where TVec : struct, IPoolVector<TVec> where TReader : struct, IColumnReader
    {
        int count = TVec.Count, w = g.W, kh = g.KH, kw = g.KW, sw = g.StrideW, ow = g.OW;
        long rowStep = (long)g.StrideH * w;
        var offsets = TVec.StridedOffsets(sw, count);
        for (int r = 0; r < g.OH; r++)
        {
            float* row = x + r * rowStep, o = y + (long)r * ow;
            int c = 0;
            for (; c + count <= ow && TReader.ReadEnd(c, count, kw, sw) <= w; c += count)
                TVec.Store(o + c, WindowMax<TVec, TReader, WholeVectors>(row + c * sw, w - c * sw, w, kh, kw, offsets));
            if (TVec.HasMaskedAccess)
            {
                for (; c < ow; c += count)
                {
                    int windows = Math.Min(count, ow - c);
                    var max = WindowMax<TVec, TReader, FirstLanes>(row + c * sw, w - c * sw, w, kh, kw, TVec.StridedOffsets(sw, windows));
                    TVec.StoreFirst(o + c, max, windows);
                }
            }
            else
            {
                var one = PoolVecScalar.StridedOffsets(sw, 1);
                for (; c < ow; c++)
                    PoolVecScalar.Store(o + c, WindowMax<PoolVecScalar, TReader, FirstLanes>(row + c * sw, w - c * sw, w, kh, kw, one));
            }
        }
    }

    /// <summary>
    /// Routes a block's dy (<paramref name="dy"/>: its <paramref name="windows"/> gradients) to dx: each window's chosen
    /// element is found vector-wise in one row-major scan (<see cref="IPoolVector{TSelf}.Beats"/>: a later element replaces
    /// the kept one only if it is larger or the first NaN), its offset (ky·W + kx) kept per lane; the adds themselves are
    /// scalar, window after window, so overlapping windows sum into dx in window order exactly as the rule says (a vector
    /// add per window column would reorder those sums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RouteBlock<TVec, TReader, TAccess>(float* at, int left, float* dxAt, float* dy, int windows, int w, int kh, int kw,
        int sw, TVec offsets, int* chosen)
        where TVec : struct, IPoolVector<TVec> where TReader : struct, IColumnReader where TAccess : struct, IBlockAccess
    {
        // −∞ and offset 0 to start: element 0 replaces it unless it is −∞ itself, and then offset 0 is already its own.
        TVec best = TVec.Broadcast(float.NegativeInfinity), offset = TVec.Zero;
        for (int ky = 0; ky < kh; ky++)
        {
            for (int kx = 0; kx < kw; kx += TReader.ColumnsPerRead)
            {
                int element = ky * w + kx;
                TReader.Read<TVec, TAccess>(at + element, left - kx, w, 1, offsets, out var first, out var second);
                var take = TVec.Beats(first, best);
                best = TVec.Select(take, first, best);
                offset = TVec.Select(take, TVec.Broadcast(BitConverter.Int32BitsToSingle(element)), offset);
                if (TReader.ColumnsPerRead == 2 && kx + 1 < kw)
                {
                    take = TVec.Beats(second, best);
                    best = TVec.Select(take, second, best);
                    offset = TVec.Select(take, TVec.Broadcast(BitConverter.Int32BitsToSingle(element + 1)), offset);
                }
            }
        }
        TVec.Store((float*)chosen, offset);
        for (int l = 0; l < windows; l++) dxAt[(long)l * sw + chosen[l]] += dy[l];
    }

    // dx plane (H, W) += dy plane (OH, OW) routed (see the class comment). The plane already holds dx + 0 (or a cleared 0).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardAny<TVec, TReader>(float* x, float* dy, float* dx, in PoolGeometry g)
        where TVec : struct, IPoolVector<TVec> where TReader : struct, IColumnReader
    {
        int count = TVec.Count, w = g.W, kh = g.KH, kw = g.KW, sw = g.StrideW, ow = g.OW;
        long rowStep = (long)g.StrideH * w;
        int* chosen = stackalloc int[16]; // one vector of offsets (at most 16 lanes)
        var offsets = TVec.StridedOffsets(sw, count);
        for (int r = 0; r < g.OH; r++)
        {
            long origin = r * rowStep;
            float* row = x + origin, dxRow = dx + origin, grad = dy + (long)r * ow;
            int c = 0;
            for (; c + count <= ow && TReader.ReadEnd(c, count, kw, sw) <= w; c += count)
                RouteBlock<TVec, TReader, WholeVectors>(row + c * sw, w - c * sw, dxRow + c * sw, grad + c, count, w, kh, kw, sw, offsets, chosen);
            if (TVec.HasMaskedAccess)
            {
                for (; c < ow; c += count)
                {
                    int windows = Math.Min(count, ow - c);
                    RouteBlock<TVec, TReader, FirstLanes>(row + c * sw, w - c * sw, dxRow + c * sw, grad + c, windows, w, kh, kw, sw,
                        TVec.StridedOffsets(sw, windows), chosen);
                }
            }
            else
            {
                var one = PoolVecScalar.StridedOffsets(sw, 1);
                for (; c < ow; c++)
                    RouteBlock<PoolVecScalar, TReader, FirstLanes>(row + c * sw, w - c * sw, dxRow + c * sw, grad + c, 1, w, kh, kw, sw, one, chosen);
            }
        }
    }

    /// <summary>p[i] += 0 for n floats: dx + G's +0 under every element (−0 becomes +0, everything else keeps its bits).</summary>
    private static void AddZero<TVec>(float* p, long n) where TVec : struct, IPoolVector<TVec>
    {
        long i = 0;
        for (; i <= n - TVec.Count; i += TVec.Count) TVec.Store(p + i, TVec.Load(p + i) + TVec.Zero);
        for (; i < n; i++) p[i] += 0f;
    }
}
