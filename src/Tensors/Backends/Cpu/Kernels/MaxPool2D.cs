using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// 2-D max pooling, no padding (see <see cref="PoolGeometry"/>). Every (n, c) plane is independent, so big tensors split by plane.
///
/// The maximum and the tie rule, identical on every backend:
/// - forward: y = the IEEE 754-2019 maximum of the window (what MathF.Max and Vector512.Max compute): a NaN anywhere in the
///   window makes y NaN (as PyTorch does; a NaN is never silently dropped), and +0 counts above −0;
/// - backward: the whole dy goes to ONE element, recomputed from x: the first NaN of the window in row-major order if there is
///   one, else the first element equal to the maximum (−0 == +0, so the first zero of a zero window). Equal values therefore
///   never split a gradient, and the choice does not depend on vector width or threads.
/// Fast paths for the 2×2 stride-2 pool every study uses (AVX-512 / AVX2 forward, AVX-512 backward); a scalar general path
/// for any window and stride (overlapping windows accumulate into dx).
/// </summary>
public static unsafe class MaxPool2D
{
    /// <summary>x (N, C, H, W) → y (N, C, OH, OW).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, in PoolGeometry g)
    {
        if (x.Length != g.InputShape.Size || y.Length != g.OutputShape.Size)
            throw new ArgumentException($"MaxPool2D.Forward: x must hold {g.InputShape} and y {g.OutputShape}.");
        fixed (float* px = x, py = y)
        {
            var kernel = new ForwardKernel { X = px, Y = py, G = g };
            RangeParallel.For(g.N * g.C, RangeParallel.GrainFor(g.H * g.W), x.Length, ref kernel);
        }
    }

    /// <summary>
    /// x (N, C, H, W), dy (N, C, OH, OW) → dx (N, C, H, W) += dy routed to each window's chosen maximum; with
    /// <paramref name="accumulate"/> false, dx = that instead (its old contents are never read: a fresh gradient needs no
    /// zero fill, and the 2×2 pool then writes dx without reading it).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, in PoolGeometry g, bool accumulate = true)
    {
        if (x.Length != g.InputShape.Size || dx.Length != x.Length || dy.Length != g.OutputShape.Size)
            throw new ArgumentException($"MaxPool2D.Backward: x and dx must hold {g.InputShape} and dy {g.OutputShape}.");
        fixed (float* px = x, pdy = dy, pdx = dx)
        {
            var kernel = new BackwardKernel { X = px, Dy = pdy, Dx = pdx, G = g, Accumulate = accumulate };
            RangeParallel.For(g.N * g.C, RangeParallel.GrainFor(g.H * g.W), x.Length, ref kernel);
        }
    }

    private static bool Is2x2Stride2(in PoolGeometry g) => g.KH == 2 && g.KW == 2 && g.StrideH == 2 && g.StrideW == 2;

    private struct ForwardKernel : IRangeKernel
    {
        public float* X, Y;
        public PoolGeometry G;

        public readonly void Run(int start, int end)
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            bool fast = Is2x2Stride2(G);
            for (int plane = start; plane < end; plane++)
            {
                float* x = X + (long)plane * inPlane, y = Y + (long)plane * outPlane;
                if (fast) Forward2x2(x, y, G.W, G.OH, G.OW);
                else ForwardGeneral(x, y, G);
            }
        }
    }

    private struct BackwardKernel : IRangeKernel
    {
        public float* X, Dy, Dx;
        public PoolGeometry G;
        public bool Accumulate;

        public readonly void Run(int start, int end)
        {
            bool fast = Is2x2Stride2(G);
            // Overwriting without a read needs every dx element under exactly one window: a 2×2 stride-2 pool of even sides.
            // Otherwise each plane is cleared first (in cache, just before use) and accumulated into.
            bool overwrite = !Accumulate && fast && G.H == 2 * G.OH && G.W == 2 * G.OW;
            if (overwrite) Planes<Overwrite>(start, end, fast);
            else Planes<Accumulate>(start, end, fast);
        }

        private readonly void Planes<TMode>(int start, int end, bool fast) where TMode : struct, IWriteMode
        {
            int inPlane = G.H * G.W, outPlane = G.OH * G.OW;
            for (int plane = start; plane < end; plane++)
            {
                long inOffset = (long)plane * inPlane;
                float* dy = Dy + (long)plane * outPlane;
                if (TMode.Accumulates && !Accumulate) new Span<float>(Dx + inOffset, inPlane).Clear();
                if (fast && G.OW == 8 && Avx512F.IsSupported) Backward2x2Width8<TMode>(X + inOffset, dy, Dx + inOffset, G.W, G.OH);
                else if (fast) Backward2x2<TMode>(X + inOffset, dy, Dx + inOffset, G.W, G.OH, G.OW);
                else BackwardGeneral(X + inOffset, dy, Dx + inOffset, G);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TMode>(float* at, Vector512<float> value) where TMode : struct, IWriteMode
    {
        if (TMode.Accumulates) (Vector512.Load(at) + value).Store(at);
        else value.Store(at);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PutMasked<TMode>(float* at, Vector512<float> mask, Vector512<float> value) where TMode : struct, IWriteMode
    {
        if (TMode.Accumulates) Avx512F.MaskStore(at, mask, MaskedLoad(at, mask) + value);
        else Avx512F.MaskStore(at, mask, value);
    }

    // ------------------------------------------------------------------ 2×2, stride 2

    // Lane indices for vpermt2ps over (a, b) = 32 consecutive floats of one row: the even (left) and odd (right) columns.
    // Fields, not `=> Vector512.Create(...)` properties: as properties the JIT ran out of inlining budget in Backward2x2 and
    // called the getters on every row (spilling every vector register around each call) — its masked path for 14- and
    // 7-wide outputs was 2.5× slower for that alone.
    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // And back: interleave (left, right) into the first and the second 16 floats of the row.
    private static readonly Vector512<int> InterleaveLow = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> InterleaveHigh = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    // x plane (H, W) → y plane (OH, OW). Output row oh reads input rows 2oh and 2oh+1; 16 (or 8) outputs need 32 (16) inputs
    // per row, and ow + 16 ≤ OW guarantees 2·ow + 32 ≤ 2·OW ≤ W, so vector loads never leave the row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward2x2(float* x, float* y, int w, int oh, int ow)
    {
        for (int r = 0; r < oh; r++)
        {
            float* top = x + (long)2 * r * w, bottom = top + w, o = y + (long)r * ow;
            int c = 0;
            if (Avx512F.IsSupported)
            {
                for (; c <= ow - 16; c += 16)
                {
                    float* t = top + 2 * c, b = bottom + 2 * c;
                    Forward16(Vector512.Load(t), Vector512.Load(t + 16), Vector512.Load(b), Vector512.Load(b + 16)).Store(o + c);
                }
                // The last < 16 windows of the row (all of them in the study's 14- and 7-wide outputs) with masked loads and
                // stores, which never touch memory outside the row, instead of one scalar window at a time. Exactly 8 left
                // (8-wide outputs) go to the AVX2 block below: measured 2× faster than a masked 512-bit pass there.
                int rest = ow - c;
                if (rest > 0 && rest != 8)
                {
                    var (low, high, windows) = TailMasks(rest);
                    float* t = top + 2 * c, b = bottom + 2 * c;
                    var result = Forward16(MaskedLoad(t, low), MaskedLoad(t + 16, high), MaskedLoad(b, low), MaskedLoad(b + 16, high));
                    Avx512F.MaskStore(o + c, windows, result);
                    c = ow;
                }
            }
            if (Avx2.IsSupported)
            {
                for (; c <= ow - 8; c += 8)
                {
                    var a = Vector256.Max(Vector256.Load(top + 2 * c), Vector256.Load(bottom + 2 * c));
                    var b = Vector256.Max(Vector256.Load(top + 2 * c + 8), Vector256.Load(bottom + 2 * c + 8));
                    // Per 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6] and the odd columns; then put the 64-bit pairs back in order.
                    var pairMax = Vector256.Max(Avx.Shuffle(a, b, 0b10_00_10_00), Avx.Shuffle(a, b, 0b11_01_11_01));
                    Avx2.Permute4x64(pairMax.AsDouble(), 0b11_01_10_00).AsSingle().Store(o + c);
                }
            }
            for (; c < ow; c++)
                o[c] = MathF.Max(MathF.Max(top[2 * c], top[2 * c + 1]), MathF.Max(bottom[2 * c], bottom[2 * c + 1]));
        }
    }

    // 16 windows: (t0, t1) and (b0, b1) are 32 consecutive floats of the two input rows → the 16 maxima.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Forward16(Vector512<float> t0, Vector512<float> t1, Vector512<float> b0, Vector512<float> b1)
    {
        // Vertical max first (elementwise), then max of each horizontal pair.
        var a = Vector512.Max(t0, b0);
        var b = Vector512.Max(t1, b1);
        return Vector512.Max(Avx512F.PermuteVar16x32x2(a, EvenLanes, b), Avx512F.PermuteVar16x32x2(a, OddLanes, b));
    }

    // dx plane (H, W) += dy plane (OH, OW) at each window's chosen element (see the class comment for the rule).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Backward2x2<TMode>(float* x, float* dy, float* dx, int w, int oh, int ow) where TMode : struct, IWriteMode
    {
        for (int r = 0; r < oh; r++)
        {
            long rowOffset = (long)2 * r * w;
            float* top = x + rowOffset, bottom = top + w;
            float* dTop = dx + rowOffset, dBottom = dTop + w;
            float* g = dy + (long)r * ow;
            int c = 0;
            if (Avx512F.IsSupported)
            {
                var even = EvenLanes; var odd = OddLanes; var low = InterleaveLow; var high = InterleaveHigh;
                for (; c <= ow - 16; c += 16)
                {
                    // Written out rather than through Backward16: its out-parameters cost 5–15 % here (A/B, 32×32×32, batch 128).
                    var t0 = Vector512.Load(top + 2 * c); var t1 = Vector512.Load(top + 2 * c + 16);
                    var b0 = Vector512.Load(bottom + 2 * c); var b1 = Vector512.Load(bottom + 2 * c + 16);
                    var topLeft = Avx512F.PermuteVar16x32x2(t0, even, t1);
                    var topRight = Avx512F.PermuteVar16x32x2(t0, odd, t1);
                    var bottomLeft = Avx512F.PermuteVar16x32x2(b0, even, b1);
                    var bottomRight = Avx512F.PermuteVar16x32x2(b0, odd, b1);
                    var max = Vector512.Max(Vector512.Max(topLeft, topRight), Vector512.Max(bottomLeft, bottomRight));
                    var takeTopLeft = Matches(topLeft, max);
                    var takeTopRight = Vector512.AndNot(Matches(topRight, max), takeTopLeft);
                    var taken = takeTopLeft | takeTopRight;
                    var takeBottomLeft = Vector512.AndNot(Matches(bottomLeft, max), taken);
                    var takeBottomRight = ~(taken | takeBottomLeft);
                    var grad = Vector512.Load(g + c);
                    var gTopLeft = grad & takeTopLeft; var gTopRight = grad & takeTopRight;
                    var gBottomLeft = grad & takeBottomLeft; var gBottomRight = grad & takeBottomRight;
                    Put<TMode>(dTop + 2 * c, Avx512F.PermuteVar16x32x2(gTopLeft, low, gTopRight));
                    Put<TMode>(dTop + 2 * c + 16, Avx512F.PermuteVar16x32x2(gTopLeft, high, gTopRight));
                    Put<TMode>(dBottom + 2 * c, Avx512F.PermuteVar16x32x2(gBottomLeft, low, gBottomRight));
                    Put<TMode>(dBottom + 2 * c + 16, Avx512F.PermuteVar16x32x2(gBottomLeft, high, gBottomRight));
                }
                // The last < 16 windows (all of them in 14- and 7-wide outputs): masked, instead of a scalar loop whose
                // data-dependent branches mispredict on every other window.
                int rest = ow - c;
                if (rest > 0)
                {
                    var (lowMask, highMask, windows) = TailMasks(rest);
                    float* t = top + 2 * c, b = bottom + 2 * c, dt = dTop + 2 * c, db = dBottom + 2 * c;
                    Backward16(MaskedLoad(t, lowMask), MaskedLoad(t + 16, highMask), MaskedLoad(b, lowMask), MaskedLoad(b + 16, highMask),
                        MaskedLoad(g + c, windows), out var dt0, out var dt1, out var db0, out var db1);
                    PutMasked<TMode>(dt, lowMask, dt0);
                    PutMasked<TMode>(dt + 16, highMask, dt1);
                    PutMasked<TMode>(db, lowMask, db0);
                    PutMasked<TMode>(db + 16, highMask, db1);
                    c = ow;
                }
            }
            for (; c < ow; c++)
            {
                int k = FirstMax4(top[2 * c], top[2 * c + 1], bottom[2 * c], bottom[2 * c + 1]);
                if (!TMode.Accumulates)
                {
                    dTop[2 * c] = 0f; dTop[2 * c + 1] = 0f;
                    dBottom[2 * c] = 0f; dBottom[2 * c + 1] = 0f;
                }
                float* target = (k < 2 ? dTop : dBottom) + 2 * c + (k & 1);
                *target += g[c];
            }
        }
    }

    // 8-wide outputs (16×16 → 8×8, cifar's second pool): two output rows at a time fill the 16 lanes — (t0, t1) are the top
    // input rows of output rows r and r + 1, and their 16 gradients are contiguous in dy. Measured 2–3× faster than one
    // masked half-empty vector per row. An odd last row goes through the general 2×2 path.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Backward2x2Width8<TMode>(float* x, float* dy, float* dx, int w, int oh) where TMode : struct, IWriteMode
    {
        int r = 0;
        for (; r + 1 < oh; r += 2)
        {
            long top0 = (long)2 * r * w, top1 = top0 + 2L * w;
            Backward16(Vector512.Load(x + top0), Vector512.Load(x + top1), Vector512.Load(x + top0 + w), Vector512.Load(x + top1 + w),
                Vector512.Load(dy + (long)r * 8), out var dt0, out var dt1, out var db0, out var db1);
            Put<TMode>(dx + top0, dt0);
            Put<TMode>(dx + top1, dt1);
            Put<TMode>(dx + top0 + w, db0);
            Put<TMode>(dx + top1 + w, db1);
        }
        if (r < oh)
        {
            long offset = (long)2 * r * w;
            Backward2x2<TMode>(x + offset, dy + (long)r * 8, dx + offset, w, 1, 8);
        }
    }

    // 16 windows: (t0, t1), (b0, b1) are 32 consecutive floats of the two input rows, grad the 16 upstream gradients →
    // what each of the 32 + 32 inputs receives (its window's gradient at the chosen element, 0 elsewhere).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Backward16(Vector512<float> t0, Vector512<float> t1, Vector512<float> b0, Vector512<float> b1, Vector512<float> grad,
        out Vector512<float> dTop0, out Vector512<float> dTop1, out Vector512<float> dBottom0, out Vector512<float> dBottom1)
    {
        // The four window elements of 16 windows, in row-major window order.
        var topLeft = Avx512F.PermuteVar16x32x2(t0, EvenLanes, t1);
        var topRight = Avx512F.PermuteVar16x32x2(t0, OddLanes, t1);
        var bottomLeft = Avx512F.PermuteVar16x32x2(b0, EvenLanes, b1);
        var bottomRight = Avx512F.PermuteVar16x32x2(b0, OddLanes, b1);
        var max = Vector512.Max(Vector512.Max(topLeft, topRight), Vector512.Max(bottomLeft, bottomRight));
        // First match wins; a window whose first three do not match must take its fourth (the max is one of them).
        var takeTopLeft = Matches(topLeft, max);
        var takeTopRight = Vector512.AndNot(Matches(topRight, max), takeTopLeft);
        var taken = takeTopLeft | takeTopRight;
        var takeBottomLeft = Vector512.AndNot(Matches(bottomLeft, max), taken);
        var takeBottomRight = ~(taken | takeBottomLeft);
        var gTopLeft = grad & takeTopLeft; var gTopRight = grad & takeTopRight;
        var gBottomLeft = grad & takeBottomLeft; var gBottomRight = grad & takeBottomRight;
        dTop0 = Avx512F.PermuteVar16x32x2(gTopLeft, InterleaveLow, gTopRight);
        dTop1 = Avx512F.PermuteVar16x32x2(gTopLeft, InterleaveHigh, gTopRight);
        dBottom0 = Avx512F.PermuteVar16x32x2(gBottomLeft, InterleaveLow, gBottomRight);
        dBottom1 = Avx512F.PermuteVar16x32x2(gBottomLeft, InterleaveHigh, gBottomRight);
    }

    /// <summary>Lane masks for the last <paramref name="windows"/> (1..15) windows of a row: their 2·windows inputs as the
    /// lanes of two 16-float vectors (low, high), and the windows' own lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Low, Vector512<float> High, Vector512<float> Windows) TailMasks(int windows)
    {
        var lanes = Vector512<int>.Indices;
        return (Vector512.LessThan(lanes, Vector512.Create(2 * windows)).AsSingle(),
                Vector512.LessThan(lanes, Vector512.Create(2 * windows - 16)).AsSingle(),
                Vector512.LessThan(lanes, Vector512.Create(windows)).AsSingle());
    }

    // Masked-off lanes read as 0 and their memory is never touched (no fault past the end of a plane).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MaskedLoad(float* address, Vector512<float> mask) =>
        Avx512F.MaskLoad(address, mask, Vector512<float>.Zero);

    // All-ones lanes where v is the window maximum m, or is NaN (m is then NaN and the first NaN must win).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Matches(Vector512<float> v, Vector512<float> m) =>
        Vector512.Equals(v, m) | ~Vector512.Equals(v, v);

    /// <summary>Index 0..3 of the chosen element of a 2×2 window (a b / c d): first NaN, else first maximum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FirstMax4(float a, float b, float c, float d)
    {
        if (float.IsNaN(a)) return 0;
        int best = 0;
        float m = a;
        if (b > m) { m = b; best = 1; } else if (float.IsNaN(b)) return 1;
        if (c > m) { m = c; best = 2; } else if (float.IsNaN(c)) return 2;
        if (d > m) best = 3; else if (float.IsNaN(d)) return 3;
        return best;
    }

    // ------------------------------------------------------------------ any window, any stride

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

    private static void BackwardGeneral(float* x, float* dy, float* dx, in PoolGeometry g)
    {
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
