using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// The AVX-512 micro-kernel: a 12 × 32 tile of C in 24 Vector512 accumulators. Per k step: two loads of B (32 columns),
/// twelve broadcasts of A (one per row), 24 fused multiply-adds. 24 accumulators + 2 B + 1 broadcast = 27 of the 32 zmm
/// registers, and 24 independent FMA chains cover the FMA latency × the two FMA pipes, so this runs at the core's FMA peak.
///
/// Edge tiles use narrower variants (4/8/12 rows × 16/32 columns) on the same packed panels, so thin shapes such as
/// M = 32, 64, 128 output channels (= 2·12 + 8, 5·12 + 4, 10·12 + 8) or N = 10 classes do not pay for padding rows/columns.
/// </summary>
internal readonly unsafe struct Kernel512 : IMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;

    // a (kc, 12) packed (first 12 rows used), b (kc, 32) packed (first 32 columns used) -> c (12, 32), row stride ldc
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => Tile<WithoutCopy, PackedA>(kc, a, 0, b, c, ldc, alpha, beta, stream, default);

    public static bool ReadsAInPlace => true;

    // Row r of the tile at a + r·lda, read where it lies (no Ã packing): the same multiply-adds in the same order as Run
    // over the packed panel, so the same bits. Twelve row pointers, the k index, B̃'s pointer and kc are about as many as
    // x64's general registers, so a row pointer may live on the stack (an extra load in a loop whose FMAs leave load slots
    // free): measured on Zen 4, still 1.02–1.10× faster than packing Ã on Dense inference shapes.
    public static void RunInPlaceA(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => Tile<WithoutCopy, InPlaceA>(kc, a, lda, b, c, ldc, alpha, beta, stream, default);

    // The same, copying one B̃ piece (32 floats, two lines) every copy.Every k steps while the FMAs run: for thin op(A),
    // packing B̃ from memory is otherwise a sixth of the time with the FMA pipes idle, and the loads and stores fit in
    // the slots the FMA-bound loop leaves free.
    public static void RunCopying(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream,
        PackAhead copy) => Tile<WithCopy, PackedA>(kc, a, 0, b, c, ldc, alpha, beta, stream, copy);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TMode, TA>(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta,
        bool stream, PackAhead copy) where TMode : struct, ICopyMode where TA : struct, IALayout
    {
        // In place: a pointer per row and one k index for all (TA is a JIT constant: the packed loop keeps one pointer).
        float* row1 = TA.InPlace ? a + 1 * lda : null, row2 = TA.InPlace ? a + 2 * lda : null;
        float* row3 = TA.InPlace ? a + 3 * lda : null, row4 = TA.InPlace ? a + 4 * lda : null;
        float* row5 = TA.InPlace ? a + 5 * lda : null, row6 = TA.InPlace ? a + 6 * lda : null;
        float* row7 = TA.InPlace ? a + 7 * lda : null, row8 = TA.InPlace ? a + 8 * lda : null;
        float* row9 = TA.InPlace ? a + 9 * lda : null, row10 = TA.InPlace ? a + 10 * lda : null;
        float* row11 = TA.InPlace ? a + 11 * lda : null;
        // The copy cursor lives in locals (no static reads or calls in the loop, or the JIT spills the accumulators).
        float* src = copy.Src, dst = copy.Dst;
        nint copiesLeft = copy.Count, every = copy.Every, countdown = 1, panelStride = copy.PanelStride;
        // Each piece's source two rows further down is prefetched: rows are ldb apart (often a page or more, beyond the
        // hardware prefetchers), and at a piece every few k steps two rows is ≳ 0.5 µs ahead of its load.
        nint ahead = 2 * copy.SrcStride;
        nint srcJump = copy.SrcStride - 32 * (nint)copy.PiecesPerRow, dstJump = 32 - panelStride * copy.PiecesPerRow;
        int piece = copy.Piece, piecesPerRow = copy.PiecesPerRow;
        Vector512<float> lo0 = default, hi0 = default;
        Vector512<float> lo1 = default, hi1 = default;
        Vector512<float> lo2 = default, hi2 = default;
        Vector512<float> lo3 = default, hi3 = default;
        Vector512<float> lo4 = default, hi4 = default;
        Vector512<float> lo5 = default, hi5 = default;
        Vector512<float> lo6 = default, hi6 = default;
        Vector512<float> lo7 = default, hi7 = default;
        Vector512<float> lo8 = default, hi8 = default;
        Vector512<float> lo9 = default, hi9 = default;
        Vector512<float> lo10 = default, hi10 = default;
        Vector512<float> lo11 = default, hi11 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(TA.InPlace ? *(a + p) : a[0]);
            lo0 = Vector512.FusedMultiplyAdd(a0, b0, lo0);
            hi0 = Vector512.FusedMultiplyAdd(a0, b1, hi0);
            var a1 = Vector512.Create(TA.InPlace ? *(row1 + p) : a[1]);
            lo1 = Vector512.FusedMultiplyAdd(a1, b0, lo1);
            hi1 = Vector512.FusedMultiplyAdd(a1, b1, hi1);
            var a2 = Vector512.Create(TA.InPlace ? *(row2 + p) : a[2]);
            lo2 = Vector512.FusedMultiplyAdd(a2, b0, lo2);
            hi2 = Vector512.FusedMultiplyAdd(a2, b1, hi2);
            var a3 = Vector512.Create(TA.InPlace ? *(row3 + p) : a[3]);
            lo3 = Vector512.FusedMultiplyAdd(a3, b0, lo3);
            hi3 = Vector512.FusedMultiplyAdd(a3, b1, hi3);
            var a4 = Vector512.Create(TA.InPlace ? *(row4 + p) : a[4]);
            lo4 = Vector512.FusedMultiplyAdd(a4, b0, lo4);
            hi4 = Vector512.FusedMultiplyAdd(a4, b1, hi4);
            var a5 = Vector512.Create(TA.InPlace ? *(row5 + p) : a[5]);
            lo5 = Vector512.FusedMultiplyAdd(a5, b0, lo5);
            hi5 = Vector512.FusedMultiplyAdd(a5, b1, hi5);
            var a6 = Vector512.Create(TA.InPlace ? *(row6 + p) : a[6]);
            lo6 = Vector512.FusedMultiplyAdd(a6, b0, lo6);
            hi6 = Vector512.FusedMultiplyAdd(a6, b1, hi6);
            var a7 = Vector512.Create(TA.InPlace ? *(row7 + p) : a[7]);
            lo7 = Vector512.FusedMultiplyAdd(a7, b0, lo7);
            hi7 = Vector512.FusedMultiplyAdd(a7, b1, hi7);
            var a8 = Vector512.Create(TA.InPlace ? *(row8 + p) : a[8]);
            lo8 = Vector512.FusedMultiplyAdd(a8, b0, lo8);
            hi8 = Vector512.FusedMultiplyAdd(a8, b1, hi8);
            var a9 = Vector512.Create(TA.InPlace ? *(row9 + p) : a[9]);
            lo9 = Vector512.FusedMultiplyAdd(a9, b0, lo9);
            hi9 = Vector512.FusedMultiplyAdd(a9, b1, hi9);
            var a10 = Vector512.Create(TA.InPlace ? *(row10 + p) : a[10]);
            lo10 = Vector512.FusedMultiplyAdd(a10, b0, lo10);
            hi10 = Vector512.FusedMultiplyAdd(a10, b1, hi10);
            var a11 = Vector512.Create(TA.InPlace ? *(row11 + p) : a[11]);
            lo11 = Vector512.FusedMultiplyAdd(a11, b0, lo11);
            hi11 = Vector512.FusedMultiplyAdd(a11, b1, hi11);
            if (!TA.InPlace) a += 12;
            b += 32;
            if (TMode.Enabled && --countdown == 0 && copiesLeft > 0)
            {
                countdown = every;
                copiesLeft--;
                if (Sse.IsSupported)
                {
                    Sse.Prefetch0(src + ahead);
                    Sse.Prefetch0(src + ahead + 16);
                }
                Vector512.Load(src).Store(dst);
                Vector512.Load(src + 16).Store(dst + 16);
                src += 32;
                dst += panelStride;
                if (++piece == piecesPerRow)
                {
                    piece = 0;
                    src += srcJump;
                    dst += dstJump;
                }
            }
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c + 0 * ldc, lo0 * va, stream); Put(c + 0 * ldc + 16, hi0 * va, stream);
            Put(c + 1 * ldc, lo1 * va, stream); Put(c + 1 * ldc + 16, hi1 * va, stream);
            Put(c + 2 * ldc, lo2 * va, stream); Put(c + 2 * ldc + 16, hi2 * va, stream);
            Put(c + 3 * ldc, lo3 * va, stream); Put(c + 3 * ldc + 16, hi3 * va, stream);
            Put(c + 4 * ldc, lo4 * va, stream); Put(c + 4 * ldc + 16, hi4 * va, stream);
            Put(c + 5 * ldc, lo5 * va, stream); Put(c + 5 * ldc + 16, hi5 * va, stream);
            Put(c + 6 * ldc, lo6 * va, stream); Put(c + 6 * ldc + 16, hi6 * va, stream);
            Put(c + 7 * ldc, lo7 * va, stream); Put(c + 7 * ldc + 16, hi7 * va, stream);
            Put(c + 8 * ldc, lo8 * va, stream); Put(c + 8 * ldc + 16, hi8 * va, stream);
            Put(c + 9 * ldc, lo9 * va, stream); Put(c + 9 * ldc + 16, hi9 * va, stream);
            Put(c + 10 * ldc, lo10 * va, stream); Put(c + 10 * ldc + 16, hi10 * va, stream);
            Put(c + 11 * ldc, lo11 * va, stream); Put(c + 11 * ldc + 16, hi11 * va, stream);
        }
        else if (beta == 1f)
        {
            Acc(c + 0 * ldc, lo0, va, stream); Acc(c + 0 * ldc + 16, hi0, va, stream);
            Acc(c + 1 * ldc, lo1, va, stream); Acc(c + 1 * ldc + 16, hi1, va, stream);
            Acc(c + 2 * ldc, lo2, va, stream); Acc(c + 2 * ldc + 16, hi2, va, stream);
            Acc(c + 3 * ldc, lo3, va, stream); Acc(c + 3 * ldc + 16, hi3, va, stream);
            Acc(c + 4 * ldc, lo4, va, stream); Acc(c + 4 * ldc + 16, hi4, va, stream);
            Acc(c + 5 * ldc, lo5, va, stream); Acc(c + 5 * ldc + 16, hi5, va, stream);
            Acc(c + 6 * ldc, lo6, va, stream); Acc(c + 6 * ldc + 16, hi6, va, stream);
            Acc(c + 7 * ldc, lo7, va, stream); Acc(c + 7 * ldc + 16, hi7, va, stream);
            Acc(c + 8 * ldc, lo8, va, stream); Acc(c + 8 * ldc + 16, hi8, va, stream);
            Acc(c + 9 * ldc, lo9, va, stream); Acc(c + 9 * ldc + 16, hi9, va, stream);
            Acc(c + 10 * ldc, lo10, va, stream); Acc(c + 10 * ldc + 16, hi10, va, stream);
            Acc(c + 11 * ldc, lo11, va, stream); Acc(c + 11 * ldc + 16, hi11, va, stream);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Scale(c + 0 * ldc, lo0, va, vb, stream); Scale(c + 0 * ldc + 16, hi0, va, vb, stream);
            Scale(c + 1 * ldc, lo1, va, vb, stream); Scale(c + 1 * ldc + 16, hi1, va, vb, stream);
            Scale(c + 2 * ldc, lo2, va, vb, stream); Scale(c + 2 * ldc + 16, hi2, va, vb, stream);
            Scale(c + 3 * ldc, lo3, va, vb, stream); Scale(c + 3 * ldc + 16, hi3, va, vb, stream);
            Scale(c + 4 * ldc, lo4, va, vb, stream); Scale(c + 4 * ldc + 16, hi4, va, vb, stream);
            Scale(c + 5 * ldc, lo5, va, vb, stream); Scale(c + 5 * ldc + 16, hi5, va, vb, stream);
            Scale(c + 6 * ldc, lo6, va, vb, stream); Scale(c + 6 * ldc + 16, hi6, va, vb, stream);
            Scale(c + 7 * ldc, lo7, va, vb, stream); Scale(c + 7 * ldc + 16, hi7, va, vb, stream);
            Scale(c + 8 * ldc, lo8, va, vb, stream); Scale(c + 8 * ldc + 16, hi8, va, vb, stream);
            Scale(c + 9 * ldc, lo9, va, vb, stream); Scale(c + 9 * ldc + 16, hi9, va, vb, stream);
            Scale(c + 10 * ldc, lo10, va, vb, stream); Scale(c + 10 * ldc + 16, hi10, va, vb, stream);
            Scale(c + 11 * ldc, lo11, va, vb, stream); Scale(c + 11 * ldc + 16, hi11, va, vb, stream);
        }
    }

    /// <summary>
    /// An edge tile: rows ≤ 12, cols ≤ 32 of c. Runs the smallest variant covering it, straight into c when it matches
    /// exactly, else into a scratch tile that is then clipped into c.
    /// </summary>
    [SkipLocalsInit] // the scratch tile is written by the variant before it is read
    public static void Edge(nint kc, int rows, int cols, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        int vr = rows <= 4 ? 4 : rows <= 8 ? 8 : 12;
        int vc = cols <= 16 ? 16 : 32;
        bool direct = vr == rows && vc == cols;
        float* tile = stackalloc float[12 * 32];
        float* dst = direct ? c : tile;
        nint ld = direct ? ldc : 32;
        float dAlpha = direct ? alpha : 1f, dBeta = direct ? beta : 0f;
        bool dStream = direct && stream;
        switch (vr * 100 + vc)
        {
            case 416: K4x16(kc, a, b, dst, ld, dAlpha, dBeta, dStream); break;
            case 432: K4x32(kc, a, b, dst, ld, dAlpha, dBeta, dStream); break;
            case 816: K8x16(kc, a, b, dst, ld, dAlpha, dBeta, dStream); break;
            case 832: K8x32(kc, a, b, dst, ld, dAlpha, dBeta, dStream); break;
            case 1216: K12x16(kc, a, b, dst, ld, dAlpha, dBeta, dStream); break;
            default: Run(kc, a, b, dst, ld, dAlpha, dBeta, dStream); break;
        }
        if (!direct) GemmEdges.MergeTile(tile, 32, c, ldc, rows, cols, alpha, beta);
    }


    // a (kc, 12) packed (first 4 rows used), b (kc, 32) packed (first 16 columns used) -> c (4, 16), row stride ldc
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void K4x16(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        Vector512<float> lo0 = default;
        Vector512<float> lo1 = default;
        Vector512<float> lo2 = default;
        Vector512<float> lo3 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var a0 = Vector512.Create(a[0]);
            lo0 = Vector512.FusedMultiplyAdd(a0, b0, lo0);
            var a1 = Vector512.Create(a[1]);
            lo1 = Vector512.FusedMultiplyAdd(a1, b0, lo1);
            var a2 = Vector512.Create(a[2]);
            lo2 = Vector512.FusedMultiplyAdd(a2, b0, lo2);
            var a3 = Vector512.Create(a[3]);
            lo3 = Vector512.FusedMultiplyAdd(a3, b0, lo3);
            a += 12;
            b += 32;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c + 0 * ldc, lo0 * va, stream);
            Put(c + 1 * ldc, lo1 * va, stream);
            Put(c + 2 * ldc, lo2 * va, stream);
            Put(c + 3 * ldc, lo3 * va, stream);
        }
        else if (beta == 1f)
        {
            Acc(c + 0 * ldc, lo0, va, stream);
            Acc(c + 1 * ldc, lo1, va, stream);
            Acc(c + 2 * ldc, lo2, va, stream);
            Acc(c + 3 * ldc, lo3, va, stream);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Scale(c + 0 * ldc, lo0, va, vb, stream);
            Scale(c + 1 * ldc, lo1, va, vb, stream);
            Scale(c + 2 * ldc, lo2, va, vb, stream);
            Scale(c + 3 * ldc, lo3, va, vb, stream);
        }
    }

    // a (kc, 12) packed (first 4 rows used), b (kc, 32) packed (first 32 columns used) -> c (4, 32), row stride ldc
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void K4x32(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        Vector512<float> lo0 = default, hi0 = default;
        Vector512<float> lo1 = default, hi1 = default;
        Vector512<float> lo2 = default, hi2 = default;
        Vector512<float> lo3 = default, hi3 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            lo0 = Vector512.FusedMultiplyAdd(a0, b0, lo0);
            hi0 = Vector512.FusedMultiplyAdd(a0, b1, hi0);
            var a1 = Vector512.Create(a[1]);
            lo1 = Vector512.FusedMultiplyAdd(a1, b0, lo1);
            hi1 = Vector512.FusedMultiplyAdd(a1, b1, hi1);
            var a2 = Vector512.Create(a[2]);
            lo2 = Vector512.FusedMultiplyAdd(a2, b0, lo2);
            hi2 = Vector512.FusedMultiplyAdd(a2, b1, hi2);
            var a3 = Vector512.Create(a[3]);
            lo3 = Vector512.FusedMultiplyAdd(a3, b0, lo3);
            hi3 = Vector512.FusedMultiplyAdd(a3, b1, hi3);
            a += 12;
            b += 32;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c + 0 * ldc, lo0 * va, stream); Put(c + 0 * ldc + 16, hi0 * va, stream);
            Put(c + 1 * ldc, lo1 * va, stream); Put(c + 1 * ldc + 16, hi1 * va, stream);
            Put(c + 2 * ldc, lo2 * va, stream); Put(c + 2 * ldc + 16, hi2 * va, stream);
            Put(c + 3 * ldc, lo3 * va, stream); Put(c + 3 * ldc + 16, hi3 * va, stream);
        }
        else if (beta == 1f)
        {
            Acc(c + 0 * ldc, lo0, va, stream); Acc(c + 0 * ldc + 16, hi0, va, stream);
            Acc(c + 1 * ldc, lo1, va, stream); Acc(c + 1 * ldc + 16, hi1, va, stream);
            Acc(c + 2 * ldc, lo2, va, stream); Acc(c + 2 * ldc + 16, hi2, va, stream);
            Acc(c + 3 * ldc, lo3, va, stream); Acc(c + 3 * ldc + 16, hi3, va, stream);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Scale(c + 0 * ldc, lo0, va, vb, stream); Scale(c + 0 * ldc + 16, hi0, va, vb, stream);
            Scale(c + 1 * ldc, lo1, va, vb, stream); Scale(c + 1 * ldc + 16, hi1, va, vb, stream);
            Scale(c + 2 * ldc, lo2, va, vb, stream); Scale(c + 2 * ldc + 16, hi2, va, vb, stream);
            Scale(c + 3 * ldc, lo3, va, vb, stream); Scale(c + 3 * ldc + 16, hi3, va, vb, stream);
        }
    }

    // a (kc, 12) packed (first 8 rows used), b (kc, 32) packed (first 16 columns used) -> c (8, 16), row stride ldc
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void K8x16(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        Vector512<float> lo0 = default;
        Vector512<float> lo1 = default;
        Vector512<float> lo2 = default;
        Vector512<float> lo3 = default;
        Vector512<float> lo4 = default;
        Vector512<float> lo5 = default;
        Vector512<float> lo6 = default;
        Vector512<float> lo7 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var a0 = Vector512.Create(a[0]);
            lo0 = Vector512.FusedMultiplyAdd(a0, b0, lo0);
            var a1 = Vector512.Create(a[1]);
            lo1 = Vector512.FusedMultiplyAdd(a1, b0, lo1);
            var a2 = Vector512.Create(a[2]);
            lo2 = Vector512.FusedMultiplyAdd(a2, b0, lo2);
            var a3 = Vector512.Create(a[3]);
            lo3 = Vector512.FusedMultiplyAdd(a3, b0, lo3);
            var a4 = Vector512.Create(a[4]);
            lo4 = Vector512.FusedMultiplyAdd(a4, b0, lo4);
            var a5 = Vector512.Create(a[5]);
            lo5 = Vector512.FusedMultiplyAdd(a5, b0, lo5);
            var a6 = Vector512.Create(a[6]);
            lo6 = Vector512.FusedMultiplyAdd(a6, b0, lo6);
            var a7 = Vector512.Create(a[7]);
            lo7 = Vector512.FusedMultiplyAdd(a7, b0, lo7);
            a += 12;
            b += 32;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c + 0 * ldc, lo0 * va, stream);
            Put(c + 1 * ldc, lo1 * va, stream);
            Put(c + 2 * ldc, lo2 * va, stream);
            Put(c + 3 * ldc, lo3 * va, stream);
            Put(c + 4 * ldc, lo4 * va, stream);
            Put(c + 5 * ldc, lo5 * va, stream);
            Put(c + 6 * ldc, lo6 * va, stream);
            Put(c + 7 * ldc, lo7 * va, stream);
        }
        else if (beta == 1f)
        {
            Acc(c + 0 * ldc, lo0, va, stream);
            Acc(c + 1 * ldc, lo1, va, stream);
            Acc(c + 2 * ldc, lo2, va, stream);
            Acc(c + 3 * ldc, lo3, va, stream);
            Acc(c + 4 * ldc, lo4, va, stream);
            Acc(c + 5 * ldc, lo5, va, stream);
            Acc(c + 6 * ldc, lo6, va, stream);
            Acc(c + 7 * ldc, lo7, va, stream);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Scale(c + 0 * ldc, lo0, va, vb, stream);
            Scale(c + 1 * ldc, lo1, va, vb, stream);
            Scale(c + 2 * ldc, lo2, va, vb, stream);
            Scale(c + 3 * ldc, lo3, va, vb, stream);
            Scale(c + 4 * ldc, lo4, va, vb, stream);
            Scale(c + 5 * ldc, lo5, va, vb, stream);
            Scale(c + 6 * ldc, lo6, va, vb, stream);
            Scale(c + 7 * ldc, lo7, va, vb, stream);
        }
    }

    // a (kc, 12) packed (first 8 rows used), b (kc, 32) packed (first 32 columns used) -> c (8, 32), row stride ldc
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void K8x32(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        Vector512<float> lo0 = default, hi0 = default;
        Vector512<float> lo1 = default, hi1 = default;
        Vector512<float> lo2 = default, hi2 = default;
        Vector512<float> lo3 = default, hi3 = default;
        Vector512<float> lo4 = default, hi4 = default;
        Vector512<float> lo5 = default, hi5 = default;
        Vector512<float> lo6 = default, hi6 = default;
        Vector512<float> lo7 = default, hi7 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            lo0 = Vector512.FusedMultiplyAdd(a0, b0, lo0);
            hi0 = Vector512.FusedMultiplyAdd(a0, b1, hi0);
            var a1 = Vector512.Create(a[1]);
            lo1 = Vector512.FusedMultiplyAdd(a1, b0, lo1);
            hi1 = Vector512.FusedMultiplyAdd(a1, b1, hi1);
            var a2 = Vector512.Create(a[2]);
            lo2 = Vector512.FusedMultiplyAdd(a2, b0, lo2);
            hi2 = Vector512.FusedMultiplyAdd(a2, b1, hi2);
            var a3 = Vector512.Create(a[3]);
            lo3 = Vector512.FusedMultiplyAdd(a3, b0, lo3);
            hi3 = Vector512.FusedMultiplyAdd(a3, b1, hi3);
            var a4 = Vector512.Create(a[4]);
            lo4 = Vector512.FusedMultiplyAdd(a4, b0, lo4);
            hi4 = Vector512.FusedMultiplyAdd(a4, b1, hi4);
            var a5 = Vector512.Create(a[5]);
            lo5 = Vector512.FusedMultiplyAdd(a5, b0, lo5);
            hi5 = Vector512.FusedMultiplyAdd(a5, b1, hi5);
            var a6 = Vector512.Create(a[6]);
            lo6 = Vector512.FusedMultiplyAdd(a6, b0, lo6);
            hi6 = Vector512.FusedMultiplyAdd(a6, b1, hi6);
            var a7 = Vector512.Create(a[7]);
            lo7 = Vector512.FusedMultiplyAdd(a7, b0, lo7);
            hi7 = Vector512.FusedMultiplyAdd(a7, b1, hi7);
            a += 12;
            b += 32;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c + 0 * ldc, lo0 * va, stream); Put(c + 0 * ldc + 16, hi0 * va, stream);
            Put(c + 1 * ldc, lo1 * va, stream); Put(c + 1 * ldc + 16, hi1 * va, stream);
            Put(c + 2 * ldc, lo2 * va, stream); Put(c + 2 * ldc + 16, hi2 * va, stream);
            Put(c + 3 * ldc, lo3 * va, stream); Put(c + 3 * ldc + 16, hi3 * va, stream);
            Put(c + 4 * ldc, lo4 * va, stream); Put(c + 4 * ldc + 16, hi4 * va, stream);
            Put(c + 5 * ldc, lo5 * va, stream); Put(c + 5 * ldc + 16, hi5 * va, stream);
            Put(c + 6 * ldc, lo6 * va, stream); Put(c + 6 * ldc + 16, hi6 * va, stream);
            Put(c + 7 * ldc, lo7 * va, stream); Put(c + 7 * ldc + 16, hi7 * va, stream);
        }
        else if (beta == 1f)
        {
            Acc(c + 0 * ldc, lo0, va, stream); Acc(c + 0 * ldc + 16, hi0, va, stream);
            Acc(c + 1 * ldc, lo1, va, stream); Acc(c + 1 * ldc + 16, hi1, va, stream);
            Acc(c + 2 * ldc, lo2, va, stream); Acc(c + 2 * ldc + 16, hi2, va, stream);
            Acc(c + 3 * ldc, lo3, va, stream); Acc(c + 3 * ldc + 16, hi3, va, stream);
            Acc(c + 4 * ldc, lo4, va, stream); Acc(c + 4 * ldc + 16, hi4, va, stream);
            Acc(c + 5 * ldc, lo5, va, stream); Acc(c + 5 * ldc + 16, hi5, va, stream);
            Acc(c + 6 * ldc, lo6, va, stream); Acc(c + 6 * ldc + 16, hi6, va, stream);
            Acc(c + 7 * ldc, lo7, va, stream); Acc(c + 7 * ldc + 16, hi7, va, stream);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Scale(c + 0 * ldc, lo0, va, vb, stream); Scale(c + 0 * ldc + 16, hi0, va, vb, stream);
            Scale(c + 1 * ldc, lo1, va, vb, stream); Scale(c + 1 * ldc + 16, hi1, va, vb, stream);
            Scale(c + 2 * ldc, lo2, va, vb, stream); Scale(c + 2 * ldc + 16, hi2, va, vb, stream);
            Scale(c + 3 * ldc, lo3, va, vb, stream); Scale(c + 3 * ldc + 16, hi3, va, vb, stream);
            Scale(c + 4 * ldc, lo4, va, vb, stream); Scale(c + 4 * ldc + 16, hi4, va, vb, stream);
            Scale(c + 5 * ldc, lo5, va, vb, stream); Scale(c + 5 * ldc + 16, hi5, va, vb, stream);
            Scale(c + 6 * ldc, lo6, va, vb, stream); Scale(c + 6 * ldc + 16, hi6, va, vb, stream);
            Scale(c + 7 * ldc, lo7, va, vb, stream); Scale(c + 7 * ldc + 16, hi7, va, vb, stream);
        }
    }

    // a (kc, 12) packed (first 12 rows used), b (kc, 32) packed (first 16 columns used) -> c (12, 16), row stride ldc
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void K12x16(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        Vector512<float> lo0 = default;
        Vector512<float> lo1 = default;
        Vector512<float> lo2 = default;
        Vector512<float> lo3 = default;
        Vector512<float> lo4 = default;
        Vector512<float> lo5 = default;
        Vector512<float> lo6 = default;
        Vector512<float> lo7 = default;
        Vector512<float> lo8 = default;
        Vector512<float> lo9 = default;
        Vector512<float> lo10 = default;
        Vector512<float> lo11 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var a0 = Vector512.Create(a[0]);
            lo0 = Vector512.FusedMultiplyAdd(a0, b0, lo0);
            var a1 = Vector512.Create(a[1]);
            lo1 = Vector512.FusedMultiplyAdd(a1, b0, lo1);
            var a2 = Vector512.Create(a[2]);
            lo2 = Vector512.FusedMultiplyAdd(a2, b0, lo2);
            var a3 = Vector512.Create(a[3]);
            lo3 = Vector512.FusedMultiplyAdd(a3, b0, lo3);
            var a4 = Vector512.Create(a[4]);
            lo4 = Vector512.FusedMultiplyAdd(a4, b0, lo4);
            var a5 = Vector512.Create(a[5]);
            lo5 = Vector512.FusedMultiplyAdd(a5, b0, lo5);
            var a6 = Vector512.Create(a[6]);
            lo6 = Vector512.FusedMultiplyAdd(a6, b0, lo6);
            var a7 = Vector512.Create(a[7]);
            lo7 = Vector512.FusedMultiplyAdd(a7, b0, lo7);
            var a8 = Vector512.Create(a[8]);
            lo8 = Vector512.FusedMultiplyAdd(a8, b0, lo8);
            var a9 = Vector512.Create(a[9]);
            lo9 = Vector512.FusedMultiplyAdd(a9, b0, lo9);
            var a10 = Vector512.Create(a[10]);
            lo10 = Vector512.FusedMultiplyAdd(a10, b0, lo10);
            var a11 = Vector512.Create(a[11]);
            lo11 = Vector512.FusedMultiplyAdd(a11, b0, lo11);
            a += 12;
            b += 32;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c + 0 * ldc, lo0 * va, stream);
            Put(c + 1 * ldc, lo1 * va, stream);
            Put(c + 2 * ldc, lo2 * va, stream);
            Put(c + 3 * ldc, lo3 * va, stream);
            Put(c + 4 * ldc, lo4 * va, stream);
            Put(c + 5 * ldc, lo5 * va, stream);
            Put(c + 6 * ldc, lo6 * va, stream);
            Put(c + 7 * ldc, lo7 * va, stream);
            Put(c + 8 * ldc, lo8 * va, stream);
            Put(c + 9 * ldc, lo9 * va, stream);
            Put(c + 10 * ldc, lo10 * va, stream);
            Put(c + 11 * ldc, lo11 * va, stream);
        }
        else if (beta == 1f)
        {
            Acc(c + 0 * ldc, lo0, va, stream);
            Acc(c + 1 * ldc, lo1, va, stream);
            Acc(c + 2 * ldc, lo2, va, stream);
            Acc(c + 3 * ldc, lo3, va, stream);
            Acc(c + 4 * ldc, lo4, va, stream);
            Acc(c + 5 * ldc, lo5, va, stream);
            Acc(c + 6 * ldc, lo6, va, stream);
            Acc(c + 7 * ldc, lo7, va, stream);
            Acc(c + 8 * ldc, lo8, va, stream);
            Acc(c + 9 * ldc, lo9, va, stream);
            Acc(c + 10 * ldc, lo10, va, stream);
            Acc(c + 11 * ldc, lo11, va, stream);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Scale(c + 0 * ldc, lo0, va, vb, stream);
            Scale(c + 1 * ldc, lo1, va, vb, stream);
            Scale(c + 2 * ldc, lo2, va, vb, stream);
            Scale(c + 3 * ldc, lo3, va, vb, stream);
            Scale(c + 4 * ldc, lo4, va, vb, stream);
            Scale(c + 5 * ldc, lo5, va, vb, stream);
            Scale(c + 6 * ldc, lo6, va, vb, stream);
            Scale(c + 7 * ldc, lo7, va, vb, stream);
            Scale(c + 8 * ldc, lo8, va, vb, stream);
            Scale(c + 9 * ldc, lo9, va, vb, stream);
            Scale(c + 10 * ldc, lo10, va, vb, stream);
            Scale(c + 11 * ldc, lo11, va, vb, stream);
        }
    }

    // c[0..16) = x; stream: a non-temporal store (c 64-byte aligned), for a C too big to stay in cache.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, Vector512<float> x, bool stream)
    {
        if (stream) x.StoreAlignedNonTemporal(c);
        else x.Store(c);
    }

    // c[0..16) += alpha · x
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Acc(float* c, Vector512<float> x, Vector512<float> va, bool stream)
        => Put(c, Vector512.FusedMultiplyAdd(x, va, Vector512.Load(c)), stream);

    // c[0..16) = alpha · x + beta · c[0..16)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* c, Vector512<float> x, Vector512<float> va, Vector512<float> vb, bool stream)
        => Put(c, Vector512.FusedMultiplyAdd(x, va, Vector512.Load(c) * vb), stream);
}
