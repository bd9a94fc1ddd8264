using System.Runtime.CompilerServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// y (oc, n) = w (oc, k) · B (k, n) with w unpacked, for two callers. The im2col forward of short patches (k = C·KH·KW ≤
/// <see cref="MaxPatch"/>: 9 for a 3×3 kernel on one channel, 27 on three), where B is the column matrix: the packed GEMM
/// is made for long k, and with k = 9 its packing and the set-up of each register tile outweigh nine multiply-adds
/// (fmnist-cnn's first layer ran at 10–14 GFLOP/s). And the direct convolution (<see cref="DirectConvForward"/>), any k,
/// where B is never built: its row kk is the zero-padded image shifted by a tap offset. So B is addressed as row kk of
/// column j at <c>src + taps[kk] + j + (j / rowWidth) · rowShift</c> (the column matrix: taps kk·ldc, one endless row).
/// Nothing is packed: six (or four) output rows at a time, each column vector of B is loaded once per k and meets the rows'
/// weights as broadcasts, accumulated in k order from zero like the GEMM's tile. Written once over
/// <see cref="IConvVector{TSelf}"/>.
/// </summary>
internal static unsafe class SmallPatchGemm
{
    /// <summary>Longest patch (k) the im2col forward gives this kernel; longer ones go to the packed GEMM.</summary>
    public const int MaxPatch = 32;

    // Below this many multiply-adds a call runs on the calling thread.
    private const long SerialMultiplyAdds = 1L << 19;

    /// <summary>w (oc, k) row-major, col (k, n) with row stride ldc → y (oc, n) with row stride ldy, overwritten.</summary>
    public static void Run(float* w, int oc, int k, float* col, int ldc, int n, float* y, int ldy,
        VectorWidth width = VectorWidth.Auto)
    {
        if (k < 1 || k > MaxPatch || oc < 1 || n < 0 || ldc < n || ldy < n)
            throw new ArgumentException($"SmallPatchGemm: k {k} (≤ {MaxPatch}), oc {oc}, n {n}, ldc {ldc}, ldy {ldy} do not fit.");
        width = ConvVectors.Resolve(width, "SmallPatchGemm");
        int* taps = stackalloc int[k];
        for (int kk = 0; kk < k; kk++) taps[kk] = kk * ldc;
        var body = new Body { W = w, Oc = oc, K = k, Src = col, Taps = taps, RowWidth = int.MaxValue, RowShift = 0, N = n, Y = y, Ldy = ldy, Width = width };
        int threads = ParallelFor.ThreadCount;
        if (ParallelFor.InsideParallel || threads == 1 || (long)oc * k * n < SerialMultiplyAdds)
        {
            body.Chunk = n;
            body.Execute(0, 0);
            return;
        }
        // Column blocks of whole 64-float runs, a few per thread.
        int chunks = 4 * threads;
        body.Chunk = Math.Max(64, (n + chunks - 1) / chunks + 63 & ~63);
        ParallelFor.For((n + body.Chunk - 1) / body.Chunk, ref body);
    }

    /// <summary>
    /// The direct convolution's product, on the calling thread: columns [0, n) of y (oc, n) (row stride ldy), B's row kk
    /// of column j at src + taps[kk] + j + (j / rowWidth) · rowShift. rowWidth must be a multiple of
    /// <paramref name="width"/>'s lane count (no vector straddles two rows), and n a multiple of rowWidth.
    /// </summary>
    public static void RunShifted(float* w, int oc, int k, float* src, int* taps, int rowWidth, int rowShift, int n, float* y, int ldy,
        VectorWidth width)
    {
        width = ConvVectors.Resolve(width, "SmallPatchGemm");
        if (k < 1 || oc < 1 || n < 0 || rowWidth < 1 || n % rowWidth != 0 || rowWidth % ConvVectors.Lanes(width) != 0 || ldy < n)
            throw new ArgumentException($"SmallPatchGemm: k {k}, oc {oc}, n {n}, row width {rowWidth} ({width}), ldy {ldy} do not fit.");
        var body = new Body { W = w, Oc = oc, K = k, Src = src, Taps = taps, RowWidth = rowWidth, RowShift = rowShift, N = n, Y = y, Ldy = ldy, Width = width, Chunk = n };
        body.Execute(0, 0);
    }

    /// <summary>Where column j's vector starts in B's row 0: the source plus the shifts of the rows passed so far.</summary>
    private struct RowCursor
    {
        public long End;
        public nint Shift;
    }

    private struct Body : IParallelBody, IConvVectorItems
    {
        public float* W, Src, Y;
        public int* Taps;
        public int Oc, K, RowWidth, RowShift, N, Ldy, Chunk;
        public VectorWidth Width;

        public void Execute(int index, int worker) => ConvVectors.Run(Width, ref this, index);

        readonly void IConvVectorItems.Run<TVec>(int index) => Columns<TVec>(index * Chunk, Math.Min(N, index * Chunk + Chunk));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Columns<TVec>(int j0, int j1) where TVec : struct, IConvVector<TVec>
        {
            int row = j0 / RowWidth;
            var cursor = new RowCursor { End = (row + 1L) * RowWidth, Shift = (nint)row * RowShift };
            int j = PairSteps<TVec>(j0, j1, ref cursor);
            j = Steps<TVec>(j, j1, ref cursor);
            if (TVec.Count > 4) j = Steps<Vec128>(j, j1, ref cursor);
            if (TVec.Count > 1) Steps<VecScalar>(j, j1, ref cursor);
        }

        // B's row 0 at column j (j never decreases between calls on one cursor).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly float* At(int j, ref RowCursor cursor)
        {
            while (j >= cursor.End)
            {
                cursor.End += RowWidth;
                cursor.Shift += RowShift;
            }
            return Src + cursor.Shift + j;
        }

        // Columns [j, j1) in steps of two TVec: six (then four) output rows × two column vectors, twelve (eight)
        // independent accumulator chains — enough to cover the multiply-add's latency on two FMA ports (four chains left
        // half of them idle). Returns where it stopped.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly int PairSteps<TVec>(int j, int j1, ref RowCursor cursor) where TVec : struct, IConvVector<TVec>
        {
            int v = TVec.Count;
            if (Oc < 4) return j;
            // Sixes, then fours; a remainder of two rows turns the last six into two fours (eight chains each instead of
            // two single rows of two chains, which wait on the multiply-add's latency): 8 = 4 + 4, 32 = 6·4 + 4 + 4.
            int sixes = Oc / 6, fours = Oc % 6 / 4;
            if (Oc % 6 == 2 && sixes > 0)
            {
                sixes--;
                fours = 2;
            }
            for (; j + 2 * v <= j1; j += 2 * v)
            {
                float* p = At(j, ref cursor), q = At(j + v, ref cursor);
                int o = 0;
                for (int block = 0; block < sixes; block++, o += 6) PairBlock<TVec, SixRows>(o, j, p, q);
                for (int block = 0; block < fours; block++, o += 4) PairBlock<TVec, FourRows>(o, j, p, q);
                for (; o < Oc; o++)
                {
                    float* wo = W + o * K;
                    TVec a = TVec.Broadcast(0f), b = a;
                    for (int kk = 0; kk < K; kk++)
                    {
                        var s = TVec.Broadcast(wo[kk]);
                        a = TVec.MultiplyAdd(s, TVec.Load(p + Taps[kk]), a);
                        b = TVec.MultiplyAdd(s, TVec.Load(q + Taps[kk]), b);
                    }
                    TVec.Store(Y + (long)o * Ldy + j, a);
                    TVec.Store(Y + (long)o * Ldy + j + v, b);
                }
            }
            return j;
        }

        /// <summary>
        /// Output rows [o, o + TRows.Count) × columns [j, j + 2·Count), whose two vectors start at p and q in B's row 0: one
        /// source for the 6- and the 4-row block (the row count is a JIT constant, so the unused fifth and sixth rows
        /// vanish from the 4-row code).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void PairBlock<TVec, TRows>(int o, int j, float* p, float* q) where TVec : struct, IConvVector<TVec> where TRows : struct, IBlockCount
        {
            int v = TVec.Count;
            bool six = TRows.Count == 6;
            float* w0 = W + o * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K, w4 = w3 + K, w5 = w4 + K;
            TVec a0 = TVec.Broadcast(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
            TVec b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
            int* taps = Taps;
            for (int kk = 0; kk < K; kk++)
            {
                nint tap = taps[kk];
                var x = TVec.Load(p + tap);
                var z = TVec.Load(q + tap);
                var s0 = TVec.Broadcast(w0[kk]);
                a0 = TVec.MultiplyAdd(s0, x, a0);
                b0 = TVec.MultiplyAdd(s0, z, b0);
                var s1 = TVec.Broadcast(w1[kk]);
                a1 = TVec.MultiplyAdd(s1, x, a1);
                b1 = TVec.MultiplyAdd(s1, z, b1);
                var s2 = TVec.Broadcast(w2[kk]);
                a2 = TVec.MultiplyAdd(s2, x, a2);
                b2 = TVec.MultiplyAdd(s2, z, b2);
                var s3 = TVec.Broadcast(w3[kk]);
                a3 = TVec.MultiplyAdd(s3, x, a3);
                b3 = TVec.MultiplyAdd(s3, z, b3);
                if (six)
                {
                    var s4 = TVec.Broadcast(w4[kk]);
                    a4 = TVec.MultiplyAdd(s4, x, a4);
                    b4 = TVec.MultiplyAdd(s4, z, b4);
                    var s5 = TVec.Broadcast(w5[kk]);
                    a5 = TVec.MultiplyAdd(s5, x, a5);
                    b5 = TVec.MultiplyAdd(s5, z, b5);
                }
            }
            float* out0 = Y + (long)o * Ldy + j;
            TVec.Store(out0, a0); TVec.Store(out0 + v, b0); out0 += Ldy;
            TVec.Store(out0, a1); TVec.Store(out0 + v, b1); out0 += Ldy;
            TVec.Store(out0, a2); TVec.Store(out0 + v, b2); out0 += Ldy;
            TVec.Store(out0, a3); TVec.Store(out0 + v, b3);
            if (six)
            {
                out0 += Ldy;
                TVec.Store(out0, a4); TVec.Store(out0 + v, b4); out0 += Ldy;
                TVec.Store(out0, a5); TVec.Store(out0 + v, b5);
            }
        }

        // Columns [j, j1) in steps of TVec; returns where it stopped.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly int Steps<TVec>(int j, int j1, ref RowCursor cursor) where TVec : struct, IConvVector<TVec>
        {
            int v = TVec.Count;
            for (; j + v <= j1; j += v)
            {
                float* p = At(j, ref cursor);
                int o = 0;
                for (; o + 4 <= Oc; o += 4)
                {
                    float* w0 = W + o * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
                    TVec a0 = TVec.Broadcast(0f), a1 = a0, a2 = a0, a3 = a0;
                    for (int kk = 0; kk < K; kk++)
                    {
                        var x = TVec.Load(p + Taps[kk]);
                        a0 = TVec.MultiplyAdd(TVec.Broadcast(w0[kk]), x, a0);
                        a1 = TVec.MultiplyAdd(TVec.Broadcast(w1[kk]), x, a1);
                        a2 = TVec.MultiplyAdd(TVec.Broadcast(w2[kk]), x, a2);
                        a3 = TVec.MultiplyAdd(TVec.Broadcast(w3[kk]), x, a3);
                    }
                    float* out0 = Y + (long)o * Ldy + j;
                    TVec.Store(out0, a0);
                    TVec.Store(out0 + Ldy, a1);
                    TVec.Store(out0 + 2L * Ldy, a2);
                    TVec.Store(out0 + 3L * Ldy, a3);
                }
                for (; o < Oc; o++)
                {
                    float* wo = W + o * K;
                    var a = TVec.Broadcast(0f);
                    for (int kk = 0; kk < K; kk++) a = TVec.MultiplyAdd(TVec.Broadcast(wo[kk]), TVec.Load(p + Taps[kk]), a);
                    TVec.Store(Y + (long)o * Ldy + j, a);
                }
            }
            return j;
        }
    }
}

/// <summary>
/// A JIT-time count of a register block's rows or taps (<see cref="SmallPatchGemm"/>, <see cref="DirectConvWeightGradient"/>):
/// the kernels are written for the largest block and guard the rest by the count, so unused chains vanish from the code.
/// </summary>
internal interface IBlockCount
{
    static abstract int Count { get; }
}

internal readonly struct SixRows : IBlockCount { public static int Count => 6; }

internal readonly struct FourRows : IBlockCount { public static int Count => 4; }

internal readonly struct OneRow : IBlockCount { public static int Count => 1; }

internal readonly struct ThreeTaps : IBlockCount { public static int Count => 3; }

internal readonly struct OneTap : IBlockCount { public static int Count => 1; }
