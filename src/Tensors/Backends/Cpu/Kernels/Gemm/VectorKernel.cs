using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>The rows of a <see cref="VectorKernel{TOps, TVector, TRows}"/> tile: a JIT-time constant.</summary>
internal interface ITileRows
{
    static abstract int MR { get; }
}

/// <summary>6 rows: 12 accumulators, for the 16 vector registers of x64 (AVX2's ymm, SSE/AVX's xmm).</summary>
internal readonly struct Rows6 : ITileRows
{
    public static int MR => 6;
}

/// <summary>12 rows: 24 accumulators, for the 32 vector registers of ARM64 NEON.</summary>
internal readonly struct Rows12 : ITileRows
{
    public static int MR => 12;
}

/// <summary>
/// The register-blocked micro-kernel for Vector256 and Vector128, one source: an MR × 2·Count tile of C held in
/// 2·MR accumulators. Per k step: two loads of B̃, MR broadcasts of Ã (or MR/4 loads of four Ã values multiplied by
/// lane, where <see cref="IGemmVector{TVector}.HasLaneMultiplyAdd"/>), 2·MR multiply-adds. The rows are written out up to
/// the largest shape (12) and guarded by TRows.MR, a JIT constant, so the rows past MR vanish from the compiled code.
///   Vector256, 6 rows (AVX2): 6 × 16, 12 + 2 + 1 = 15 of the 16 ymm registers;
///   Vector128, 6 rows (x64 SSE/AVX without AVX2): 6 × 8, 15 of the 16 xmm registers;
///   Vector128, 12 rows (ARM64 NEON): 12 × 8, 24 accumulators + 2 B + 3 A quads = 29 of the 32 registers.
/// The AVX-512 kernel (<see cref="Kernel512"/>, 12 × 32) stays a separate, hand-tuned source: its pack-ahead interleaving
/// was tuned on Zen 5 and cannot be run or re-measured on an AVX2-only machine.
/// </summary>
internal readonly unsafe struct VectorKernel<TOps, TVector, TRows> : IMicroKernel
    where TOps : struct, IGemmVector<TVector>
    where TVector : struct
    where TRows : struct, ITileRows
{
    public static int MR => TRows.MR;
    public static int NR => 2 * TOps.Count;

    // The copies after the tile, not interleaved: the AVX-512 tuning does not apply to these kernels.
    public static void RunCopying(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream,
        PackAhead copy)
    {
        Run(kc, a, b, c, ldc, alpha, beta, stream);
        copy.CopyAll(NR);
    }

    /// <summary>Edge tile: the full kernel into scratch, clipped into c.</summary>
    public static void Edge(nint kc, int rows, int cols, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        float* tile = stackalloc float[MaxTile];
        Run(kc, a, b, tile, NR, 1f, 0f, false);
        GemmEdges.MergeTile(tile, NR, c, ldc, rows, cols, alpha, beta);
    }

    // 12 rows × 2 vectors of up to 8 floats: the scratch tile of the largest shape.
    private const int MaxTile = 12 * 16;

    // a (kc, MR) packed, b (kc, NR) packed -> c (MR, NR), row stride ldc. stream is ignored (plain stores).
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => Tile<PackedA>(kc, a, 0, b, c, ldc, alpha, beta);

    public static bool ReadsAInPlace => true;

    // Row r of the tile at a + r·lda, read where it lies: the same multiply-adds in the same order as Run over the
    // packed panel, so the same bits.
    public static void RunInPlaceA(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => Tile<InPlaceA>(kc, a, lda, b, c, ldc, alpha, beta);

    // One source for both layouts of Ã (a JIT constant): packed, row r at a + r and MR floats per k step; in place, row r
    // at a + r·lda, addressed as row pointer + the k index (a register per row: 6 on x64, 12 on ARM64's 31).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TA>(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta)
        where TA : struct, IALayout
    {
        // In place: a pointer per row and one index for all, as the packed loop has one pointer (no extra increments).
        float* row1 = TA.InPlace && TRows.MR > 1 ? a + 1 * lda : null;
        float* row2 = TA.InPlace && TRows.MR > 2 ? a + 2 * lda : null;
        float* row3 = TA.InPlace && TRows.MR > 3 ? a + 3 * lda : null;
        float* row4 = TA.InPlace && TRows.MR > 4 ? a + 4 * lda : null;
        float* row5 = TA.InPlace && TRows.MR > 5 ? a + 5 * lda : null;
        float* row6 = TA.InPlace && TRows.MR > 6 ? a + 6 * lda : null;
        float* row7 = TA.InPlace && TRows.MR > 7 ? a + 7 * lda : null;
        float* row8 = TA.InPlace && TRows.MR > 8 ? a + 8 * lda : null;
        float* row9 = TA.InPlace && TRows.MR > 9 ? a + 9 * lda : null;
        float* row10 = TA.InPlace && TRows.MR > 10 ? a + 10 * lda : null;
        float* row11 = TA.InPlace && TRows.MR > 11 ? a + 11 * lda : null;
        TVector lo0 = TOps.Zero, hi0 = TOps.Zero;
        TVector lo1 = TOps.Zero, hi1 = TOps.Zero;
        TVector lo2 = TOps.Zero, hi2 = TOps.Zero;
        TVector lo3 = TOps.Zero, hi3 = TOps.Zero;
        TVector lo4 = TOps.Zero, hi4 = TOps.Zero;
        TVector lo5 = TOps.Zero, hi5 = TOps.Zero;
        TVector lo6 = TOps.Zero, hi6 = TOps.Zero;
        TVector lo7 = TOps.Zero, hi7 = TOps.Zero;
        TVector lo8 = TOps.Zero, hi8 = TOps.Zero;
        TVector lo9 = TOps.Zero, hi9 = TOps.Zero;
        TVector lo10 = TOps.Zero, hi10 = TOps.Zero;
        TVector lo11 = TOps.Zero, hi11 = TOps.Zero;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = TOps.Load(b);
            var b1 = TOps.Load(b + TOps.Count);
            if (!TA.InPlace && TOps.HasLaneMultiplyAdd && TRows.MR % 4 == 0)
            {
                {
                    var q0 = Vector128.Load(a);
                    lo0 = TOps.MultiplyAddByLane(lo0, b0, q0, 0); hi0 = TOps.MultiplyAddByLane(hi0, b1, q0, 0);
                    lo1 = TOps.MultiplyAddByLane(lo1, b0, q0, 1); hi1 = TOps.MultiplyAddByLane(hi1, b1, q0, 1);
                    lo2 = TOps.MultiplyAddByLane(lo2, b0, q0, 2); hi2 = TOps.MultiplyAddByLane(hi2, b1, q0, 2);
                    lo3 = TOps.MultiplyAddByLane(lo3, b0, q0, 3); hi3 = TOps.MultiplyAddByLane(hi3, b1, q0, 3);
                }
                if (TRows.MR > 4)
                {
                    var q1 = Vector128.Load(a + 4);
                    lo4 = TOps.MultiplyAddByLane(lo4, b0, q1, 0); hi4 = TOps.MultiplyAddByLane(hi4, b1, q1, 0);
                    lo5 = TOps.MultiplyAddByLane(lo5, b0, q1, 1); hi5 = TOps.MultiplyAddByLane(hi5, b1, q1, 1);
                    lo6 = TOps.MultiplyAddByLane(lo6, b0, q1, 2); hi6 = TOps.MultiplyAddByLane(hi6, b1, q1, 2);
                    lo7 = TOps.MultiplyAddByLane(lo7, b0, q1, 3); hi7 = TOps.MultiplyAddByLane(hi7, b1, q1, 3);
                }
                if (TRows.MR > 8)
                {
                    var q2 = Vector128.Load(a + 8);
                    lo8 = TOps.MultiplyAddByLane(lo8, b0, q2, 0); hi8 = TOps.MultiplyAddByLane(hi8, b1, q2, 0);
                    lo9 = TOps.MultiplyAddByLane(lo9, b0, q2, 1); hi9 = TOps.MultiplyAddByLane(hi9, b1, q2, 1);
                    lo10 = TOps.MultiplyAddByLane(lo10, b0, q2, 2); hi10 = TOps.MultiplyAddByLane(hi10, b1, q2, 2);
                    lo11 = TOps.MultiplyAddByLane(lo11, b0, q2, 3); hi11 = TOps.MultiplyAddByLane(hi11, b1, q2, 3);
                }
            }
            else
            {
                { var a0 = TOps.Broadcast(TA.InPlace ? a + p : a); lo0 = TOps.MultiplyAdd(a0, b0, lo0); hi0 = TOps.MultiplyAdd(a0, b1, hi0); }
                if (TRows.MR > 1) { var a1 = TOps.Broadcast(TA.InPlace ? row1 + p : a + 1); lo1 = TOps.MultiplyAdd(a1, b0, lo1); hi1 = TOps.MultiplyAdd(a1, b1, hi1); }
                if (TRows.MR > 2) { var a2 = TOps.Broadcast(TA.InPlace ? row2 + p : a + 2); lo2 = TOps.MultiplyAdd(a2, b0, lo2); hi2 = TOps.MultiplyAdd(a2, b1, hi2); }
                if (TRows.MR > 3) { var a3 = TOps.Broadcast(TA.InPlace ? row3 + p : a + 3); lo3 = TOps.MultiplyAdd(a3, b0, lo3); hi3 = TOps.MultiplyAdd(a3, b1, hi3); }
                if (TRows.MR > 4) { var a4 = TOps.Broadcast(TA.InPlace ? row4 + p : a + 4); lo4 = TOps.MultiplyAdd(a4, b0, lo4); hi4 = TOps.MultiplyAdd(a4, b1, hi4); }
                if (TRows.MR > 5) { var a5 = TOps.Broadcast(TA.InPlace ? row5 + p : a + 5); lo5 = TOps.MultiplyAdd(a5, b0, lo5); hi5 = TOps.MultiplyAdd(a5, b1, hi5); }
                if (TRows.MR > 6) { var a6 = TOps.Broadcast(TA.InPlace ? row6 + p : a + 6); lo6 = TOps.MultiplyAdd(a6, b0, lo6); hi6 = TOps.MultiplyAdd(a6, b1, hi6); }
                if (TRows.MR > 7) { var a7 = TOps.Broadcast(TA.InPlace ? row7 + p : a + 7); lo7 = TOps.MultiplyAdd(a7, b0, lo7); hi7 = TOps.MultiplyAdd(a7, b1, hi7); }
                if (TRows.MR > 8) { var a8 = TOps.Broadcast(TA.InPlace ? row8 + p : a + 8); lo8 = TOps.MultiplyAdd(a8, b0, lo8); hi8 = TOps.MultiplyAdd(a8, b1, hi8); }
                if (TRows.MR > 9) { var a9 = TOps.Broadcast(TA.InPlace ? row9 + p : a + 9); lo9 = TOps.MultiplyAdd(a9, b0, lo9); hi9 = TOps.MultiplyAdd(a9, b1, hi9); }
                if (TRows.MR > 10) { var a10 = TOps.Broadcast(TA.InPlace ? row10 + p : a + 10); lo10 = TOps.MultiplyAdd(a10, b0, lo10); hi10 = TOps.MultiplyAdd(a10, b1, hi10); }
                if (TRows.MR > 11) { var a11 = TOps.Broadcast(TA.InPlace ? row11 + p : a + 11); lo11 = TOps.MultiplyAdd(a11, b0, lo11); hi11 = TOps.MultiplyAdd(a11, b1, hi11); }
            }
            if (!TA.InPlace) a += TRows.MR;
            b += 2 * TOps.Count;
        }

        var va = TOps.Create(alpha);
        if (beta == 0f)
        {
            StoreRow(c + 0 * ldc, lo0, hi0, va);
            if (TRows.MR > 1) StoreRow(c + 1 * ldc, lo1, hi1, va);
            if (TRows.MR > 2) StoreRow(c + 2 * ldc, lo2, hi2, va);
            if (TRows.MR > 3) StoreRow(c + 3 * ldc, lo3, hi3, va);
            if (TRows.MR > 4) StoreRow(c + 4 * ldc, lo4, hi4, va);
            if (TRows.MR > 5) StoreRow(c + 5 * ldc, lo5, hi5, va);
            if (TRows.MR > 6) StoreRow(c + 6 * ldc, lo6, hi6, va);
            if (TRows.MR > 7) StoreRow(c + 7 * ldc, lo7, hi7, va);
            if (TRows.MR > 8) StoreRow(c + 8 * ldc, lo8, hi8, va);
            if (TRows.MR > 9) StoreRow(c + 9 * ldc, lo9, hi9, va);
            if (TRows.MR > 10) StoreRow(c + 10 * ldc, lo10, hi10, va);
            if (TRows.MR > 11) StoreRow(c + 11 * ldc, lo11, hi11, va);
        }
        else
        {
            var vb = TOps.Create(beta);
                ScaleRow(c + 0 * ldc, lo0, hi0, va, vb);
                if (TRows.MR > 1) ScaleRow(c + 1 * ldc, lo1, hi1, va, vb);
                if (TRows.MR > 2) ScaleRow(c + 2 * ldc, lo2, hi2, va, vb);
                if (TRows.MR > 3) ScaleRow(c + 3 * ldc, lo3, hi3, va, vb);
                if (TRows.MR > 4) ScaleRow(c + 4 * ldc, lo4, hi4, va, vb);
                if (TRows.MR > 5) ScaleRow(c + 5 * ldc, lo5, hi5, va, vb);
                if (TRows.MR > 6) ScaleRow(c + 6 * ldc, lo6, hi6, va, vb);
                if (TRows.MR > 7) ScaleRow(c + 7 * ldc, lo7, hi7, va, vb);
                if (TRows.MR > 8) ScaleRow(c + 8 * ldc, lo8, hi8, va, vb);
                if (TRows.MR > 9) ScaleRow(c + 9 * ldc, lo9, hi9, va, vb);
                if (TRows.MR > 10) ScaleRow(c + 10 * ldc, lo10, hi10, va, vb);
                if (TRows.MR > 11) ScaleRow(c + 11 * ldc, lo11, hi11, va, vb);
        }
    }

    // c[0 .. NR) = alpha · (x0, x1)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, TVector x0, TVector x1, TVector va)
    {
        TOps.Store(c, TOps.Multiply(x0, va));
        TOps.Store(c + TOps.Count, TOps.Multiply(x1, va));
    }

    // c[0 .. NR) = alpha · (x0, x1) + beta · c[0 .. NR)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleRow(float* c, TVector x0, TVector x1, TVector va, TVector vb)
    {
        TOps.Store(c, TOps.MultiplyAdd(x0, va, TOps.Multiply(TOps.Load(c), vb)));
        TOps.Store(c + TOps.Count, TOps.MultiplyAdd(x1, va, TOps.Multiply(TOps.Load(c + TOps.Count), vb)));
    }
}

/// <summary>Where a micro-kernel reads Ã (a JIT constant): packed k-major panels, or op(A)'s rows where they lie.</summary>
internal interface IALayout
{
    static abstract bool InPlace { get; }
}

internal readonly struct PackedA : IALayout
{
    public static bool InPlace => false;
}

internal readonly struct InPlaceA : IALayout
{
    public static bool InPlace => true;
}
