using System.Runtime.CompilerServices;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>Vector width of the max-pool kernel: Auto picks the widest the machine runs; tests force each one.</summary>
internal enum PoolVectorWidth { Auto, Vector512, Vector256, Vector128, Scalar }

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
/// The 2×2 stride-2 pool every study uses is written once over <see cref="IPoolVector{TSelf}"/> and specialised by the JIT
/// for Vector512, Vector256, Vector128 and plain floats (the scalar width is the same source with one lane); any other
/// window and stride goes through a scalar general path (overlapping windows accumulate into dx in window order).
/// </summary>
public static unsafe class MaxPoolKernel
{
    /// <summary>x (N, C, H, W) → y (N, C, OH, OW).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, in PoolGeometry g) => Forward(x, y, g, PoolVectorWidth.Auto);

    /// <summary>
    /// x (N, C, H, W), dy (N, C, OH, OW) → dx (N, C, H, W) += dy routed to each window's chosen maximum; with
    /// <paramref name="accumulate"/> false, dx = that instead (its old contents are never read: a fresh gradient needs no
    /// zero fill, and the 2×2 pool of even sides then writes dx without reading it).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, in PoolGeometry g, bool accumulate = true) =>
        Backward(x, dy, dx, g, accumulate, PoolVectorWidth.Auto);

    /// <summary>The widest width this machine runs.</summary>
    internal static PoolVectorWidth BestWidth { get; } =
        PoolVec512.IsSupported ? PoolVectorWidth.Vector512
        : PoolVec256.IsSupported ? PoolVectorWidth.Vector256
        : PoolVec128.IsSupported ? PoolVectorWidth.Vector128
        : PoolVectorWidth.Scalar;

    internal static bool IsSupported(PoolVectorWidth width) => width switch
    {
        PoolVectorWidth.Auto or PoolVectorWidth.Scalar => true,
        PoolVectorWidth.Vector512 => PoolVec512.IsSupported,
        PoolVectorWidth.Vector256 => PoolVec256.IsSupported,
        PoolVectorWidth.Vector128 => PoolVec128.IsSupported,
        _ => false,
    };

    internal static void Forward(ReadOnlySpan<float> x, Span<float> y, in PoolGeometry g, PoolVectorWidth width)
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
        PoolVectorWidth width)
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

    private static PoolVectorWidth Resolve(PoolVectorWidth width)
    {
        if (width == PoolVectorWidth.Auto) return BestWidth;
        if (!IsSupported(width)) throw new PlatformNotSupportedException($"MaxPoolKernel: {width} is not supported on this machine.");
        return width;
    }

    private static bool Is2x2Stride2(in PoolGeometry g) => g.KH == 2 && g.KW == 2 && g.StrideH == 2 && g.StrideW == 2;

    // ------------------------------------------------------------------ dispatch: once per chunk of planes

    private struct ForwardPlanes : IRangeKernel
    {
        public float* X, Y;
        public PoolGeometry G;
        public PoolVectorWidth Width;

        public readonly void Run(int start, int end)
        {
            if (!Is2x2Stride2(G))
            {
                for (int plane = start; plane < end; plane++) ForwardGeneral(X + (long)plane * G.H * G.W, Y + (long)plane * G.OH * G.OW, G);
                return;
            }
            switch (Width)
            {
                case PoolVectorWidth.Vector512: Planes<PoolVec512>(start, end); break;
                case PoolVectorWidth.Vector256: Planes<PoolVec256>(start, end); break;
                case PoolVectorWidth.Vector128: Planes<PoolVec128>(start, end); break;
                default: Planes<PoolVecScalar>(start, end); break;
            }
        }

        private readonly void Planes<TVec>(int start, int end) where TVec : struct, IPoolVector<TVec>
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            for (int plane = start; plane < end; plane++)
                Forward2x2<TVec>(X + (long)plane * inPlane, Y + (long)plane * outPlane, G.W, G.OH, G.OW);
        }
    }

    private struct BackwardPlanes : IRangeKernel
    {
        public float* X, Dy, Dx;
        public PoolGeometry G;
        public bool Accumulate;
        public PoolVectorWidth Width;

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
            switch (Width)
            {
                case PoolVectorWidth.Vector512: Planes<PoolVec512, TMode>(start, end); break;
                case PoolVectorWidth.Vector256: Planes<PoolVec256, TMode>(start, end); break;
                case PoolVectorWidth.Vector128: Planes<PoolVec128, TMode>(start, end); break;
                default: Planes<PoolVecScalar, TMode>(start, end); break;
            }
        }

        private readonly void Planes<TVec, TMode>(int start, int end) where TVec : struct, IPoolVector<TVec> where TMode : struct, IWriteMode
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            bool fast = Is2x2Stride2(G);
            for (int plane = start; plane < end; plane++)
            {
                long inOffset = (long)plane * inPlane;
                float* x = X + inOffset, dx = Dx + inOffset, dy = Dy + (long)plane * outPlane;
                if (TMode.Accumulates && !Accumulate) new Span<float>(dx, inPlane).Clear();
                if (fast) Backward2x2<TVec, TMode>(x, dy, dx, G.H, G.W, G.OH, G.OW);
                else BackwardGeneral(x, dy, dx, G);
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

    // ------------------------------------------------------------------ any window, any stride (scalar)

    private static void ForwardGeneral(float* x, float* y, in PoolGeometry g)
    {
        for (int r = 0; r < g.OH; r++)
        {
            for (int c = 0; c < g.OW; c++)
            {
                float* window = x + (long)r * g.StrideH * g.W + (long)c * g.StrideW;
                float m = window[0];
                for (int kh = 0; kh < g.KH; kh++)
                for (int kw = 0; kw < g.KW; kw++)
                    m = MathF.Max(m, window[kh * g.W + kw]);
                y[r * g.OW + c] = m;
            }
        }
    }

    // Always accumulates (an overwriting caller clears the plane first), in window order: overlapping windows add up.
    private static void BackwardGeneral(float* x, float* dy, float* dx, in PoolGeometry g)
    {
        // dx + G, G starting at +0 everywhere: −0 in dx becomes +0 even where no window routes anything.
        for (long i = 0; i < (long)g.H * g.W; i++) dx[i] += 0f;
        for (int r = 0; r < g.OH; r++)
        {
            for (int c = 0; c < g.OW; c++)
            {
                long origin = (long)r * g.StrideH * g.W + (long)c * g.StrideW;
                dx[origin + FirstMaxOffset(x + origin, g.W, g.KH, g.KW)] += dy[r * g.OW + c];
            }
        }
    }

    /// <summary>Offset (kh·W + kw) of the chosen element of a KH×KW window at <paramref name="window"/>: first NaN, else first maximum.</summary>
    private static int FirstMaxOffset(float* window, int w, int kh, int kw)
    {
        float m = window[0];
        if (float.IsNaN(m)) return 0;
        int best = 0;
        for (int i = 0; i < kh; i++)
        {
            for (int j = 0; j < kw; j++)
            {
                int offset = i * w + j;
                float v = window[offset];
                if (v > m) { m = v; best = offset; }
                else if (float.IsNaN(v)) return offset;
            }
        }
        return best;
    }
}
