using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Packing op(A) and op(B) into the layouts the micro-kernels stream through:
///   Ã panel: MR rows of op(A) for a K block, k-major: Ã[k·MR + r] = op(A)(i0 + r, k0 + k);
///   B̃ panel: NR columns of op(B) for a K block, k-major: B̃[k·NR + j] = op(B)(k0 + k, j0 + j).
/// Transposed operands are read in place and transposed here; rows/columns past the matrix edge are zero, so the
/// micro-kernel always computes a whole tile and the edge handling only has to clip the store.
/// </summary>
internal static unsafe class GemmPacking
{
    // Rows of op(B) ahead that PackB prefetches: the next group of four. Each row of a B̃ block is a short run (≤ NcMax
    // columns) in its own page, too short for the hardware prefetchers to ramp up, so without it every row starts with full
    // memory latency. Measured on Zen 5, 2 threads: 32×288·131072 +20 %, 64×576·32768 +5 %, square 1024³ unchanged; 2, 4
    // and 8 rows ahead, and the T0/T1/T2 hints, are within noise of each other. (For a thin op(A) with op(B) from memory,
    // the micro-kernels pack the next block themselves while they compute — GemmDriver's pack-ahead — and this packer
    // only fills each lane's first block.)
    internal const int PrefetchRows = 4;

    /// <summary>
    /// One Ã panel: op(A) rows [i0, i0 + MR) ∩ [0, m), columns [k0, k0 + kc) -> dst (kc, MR).
    /// A is stored (m, k) with row stride lda, or (k, m) when transposeA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<TKernel>(in GemmArgs g, int i0, int k0, int kc, float* dst) where TKernel : struct, IMicroKernel
    {
        int mr = TKernel.MR;
        int rows = Math.Min(mr, g.M - i0);
        if (!g.TransposeA)
        {
            int p0 = 0;
            if (mr == 12 && Sgemm.UseVector512)
            {
                // 12 rows × 16 k at a time through an in-register transpose (missing rows become the zero padding).
                float* src = g.A + (nint)i0 * g.Lda + k0;
                for (; p0 + 16 <= kc; p0 += 16)
                    GemmTranspose.Block16(src + p0, g.Lda, rows, dst + (nint)p0 * mr, mr, 12);
            }
            // Row r of the panel is contiguous in A: read it sequentially, write it with stride MR.
            for (int r = 0; r < rows; r++)
            {
                float* src = g.A + (nint)(i0 + r) * g.Lda + k0;
                float* d = dst + r;
                for (int p = p0; p < kc; p++) d[(nint)p * mr] = src[p];
            }
            for (int r = rows; r < mr; r++)
                for (int p = p0; p < kc; p++) dst[(nint)p * mr + r] = 0f;
        }
        else
        {
            // Stored (k, m): the MR values of one k step are contiguous.
            if (rows == mr)
            {
                for (int p = 0; p < kc; p++)
                    Unsafe.CopyBlockUnaligned(dst + (nint)p * mr, g.A + (nint)(k0 + p) * g.Lda + i0, (uint)(TKernel.MR * sizeof(float)));
                return;
            }
            for (int p = 0; p < kc; p++)
            {
                float* src = g.A + (nint)(k0 + p) * g.Lda + i0;
                float* d = dst + (nint)p * mr;
                int r = 0;
                for (; r < rows; r++) d[r] = src[r];
                for (; r < mr; r++) d[r] = 0f;
            }
        }
    }

    /// <summary>
    /// The B̃ block of one column chunk: op(B) rows [k0, k0 + kc), columns [j0, j0 + width) -> dst, ⌈width/NR⌉ panels of
    /// (kc, NR) one after another. B is stored (k, n) with row stride ldb, or (n, k) when transposeB.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<TKernel>(in GemmArgs g, int k0, int kc, int j0, int width, float* dst) where TKernel : struct, IMicroKernel
    {
        int nr = TKernel.NR;
        int fullPanels = width / nr;
        int tail = width - fullPanels * nr;
        nint panelStride = (nint)kc * nr;
        if (!g.TransposeB)
        {
            // Row k of op(B) is contiguous: stream it once, scattering NR-wide pieces into the panels. Four rows at a time:
            // four sequential streams in flight rather than one (packing 64×576·32768 alone: 15 % faster at 1 thread).
            nint ldb = g.Ldb;
            int p = 0;
            for (; p + 4 <= kc; p += 4)
            {
                float* src = g.B + (nint)(k0 + p) * ldb + j0;
                float* d = dst + (nint)p * nr;
                float* ahead = p + 4 + PrefetchRows <= kc ? src + PrefetchRows * ldb : null;
                for (int jp = 0; jp < fullPanels; jp++)
                {
                    nint at = (nint)jp * nr;
                    float* panel = d + jp * panelStride;
                    if (Sse.IsSupported && ahead != null)
                    {
                        PrefetchPanelRow<TKernel>(ahead + at);
                        PrefetchPanelRow<TKernel>(ahead + ldb + at);
                        PrefetchPanelRow<TKernel>(ahead + 2 * ldb + at);
                        PrefetchPanelRow<TKernel>(ahead + 3 * ldb + at);
                    }
                    CopyPanelRow<TKernel>(src + at, panel);
                    CopyPanelRow<TKernel>(src + ldb + at, panel + nr);
                    CopyPanelRow<TKernel>(src + 2 * ldb + at, panel + 2 * nr);
                    CopyPanelRow<TKernel>(src + 3 * ldb + at, panel + 3 * nr);
                }
                for (int r = 0; r < 4 && tail > 0; r++)
                    CopyTail(src + r * ldb + (nint)fullPanels * nr, d + r * nr + fullPanels * panelStride, tail, nr);
            }
            for (; p < kc; p++)
            {
                float* src = g.B + (nint)(k0 + p) * ldb + j0;
                float* d = dst + (nint)p * nr;
                for (int jp = 0; jp < fullPanels; jp++)
                    CopyPanelRow<TKernel>(src + (nint)jp * nr, d + jp * panelStride);
                if (tail > 0) CopyTail(src + (nint)fullPanels * nr, d + fullPanels * panelStride, tail, nr);
            }
        }
        else
        {
            // Stored (n, k): column j of op(B) is row j of B. Read each sequentially, write with stride NR.
            int panels = fullPanels + (tail > 0 ? 1 : 0);
            for (int jp = 0; jp < panels; jp++)
            {
                float* panel = dst + jp * panelStride;
                int cols = Math.Min(nr, width - jp * nr);
                int p0 = 0;
                if (nr == 32 && Sgemm.UseVector512)
                {
                    // 16 k × 32 columns at a time: two in-register 16 × 16 transposes (missing columns become zeros).
                    float* src = g.B + (nint)(j0 + jp * nr) * g.Ldb + k0;
                    int upper = Math.Max(0, cols - 16);
                    for (; p0 + 16 <= kc; p0 += 16)
                    {
                        GemmTranspose.Block16(src + p0, g.Ldb, Math.Min(16, cols), panel + (nint)p0 * nr, nr, 16);
                        GemmTranspose.Block16(src + 16 * g.Ldb + p0, g.Ldb, upper, panel + (nint)p0 * nr + 16, nr, 16);
                    }
                }
                else if (nr % 4 == 0 && cols == nr && Vector128.IsHardwareAccelerated && GemmTranspose.Has4x4)
                {
                    // A whole panel, 4 k × 4 columns at a time (the AVX2, SSE and NEON panels, NR = 16 or 8).
                    float* src = g.B + (nint)(j0 + jp * nr) * g.Ldb + k0;
                    for (; p0 + 4 <= kc; p0 += 4)
                        for (int j = 0; j < nr; j += 4)
                            GemmTranspose.Block4x4(src + j * g.Ldb + p0, g.Ldb, panel + (nint)p0 * nr + j, nr);
                }
                for (int j = 0; j < cols; j++)
                {
                    float* src = g.B + (nint)(j0 + jp * nr + j) * g.Ldb + k0;
                    float* d = panel + j;
                    for (int p = p0; p < kc; p++) d[(nint)p * nr] = src[p];
                }
                for (int j = cols; j < nr; j++)
                    for (int p = p0; p < kc; p++) panel[(nint)p * nr + j] = 0f;
            }
        }
    }

    /// <summary>
    /// Only the partial last panel of a B̃ block (op(B) not transposed): columns [j0 + ⌊width/NR⌋·NR, j0 + width), zero
    /// padded. The whole panels come from <see cref="PackAhead"/> copies.
    /// </summary>
    public static void PackBTail<TKernel>(in GemmArgs g, int k0, int kc, int j0, int width, float* dst) where TKernel : struct, IMicroKernel
    {
        int nr = TKernel.NR;
        int fullPanels = width / nr, tail = width - fullPanels * nr;
        float* panel = dst + (nint)fullPanels * kc * nr;
        for (int p = 0; p < kc; p++)
            CopyTail(g.B + (nint)(k0 + p) * g.Ldb + j0 + (nint)fullPanels * nr, panel + (nint)p * nr, tail, nr);
    }

    // The last, partial panel's row: tail values, then zeros up to NR.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyTail(float* src, float* dst, int tail, int nr)
    {
        int j = 0;
        for (; j < tail; j++) dst[j] = src[j];
        for (; j < nr; j++) dst[j] = 0f;
    }

    // One prefetch per 64-byte line of an NR-wide piece of a row (NR floats are one or two lines).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchPanelRow<TKernel>(float* src) where TKernel : struct, IMicroKernel
    {
        for (int j = 0; j < TKernel.NR; j += 16) Sse.Prefetch0(src + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyPanelRow<TKernel>(float* src, float* dst) where TKernel : struct, IMicroKernel
    {
        // TKernel.NR is a JIT-time constant: only one branch survives.
        if (TKernel.NR == 32 && Sgemm.UseVector512)
        {
            Vector512.Load(src).Store(dst);
            Vector512.Load(src + 16).Store(dst + 16);
        }
        else if (TKernel.NR == 16 && Vector256.IsHardwareAccelerated)
        {
            Vector256.Load(src).Store(dst);
            Vector256.Load(src + 8).Store(dst + 8);
        }
        else if (TKernel.NR == 8 && Vector128.IsHardwareAccelerated)
        {
            Vector128.Load(src).Store(dst);
            Vector128.Load(src + 4).Store(dst + 4);
        }
        else
        {
            for (int j = 0; j < TKernel.NR; j++) dst[j] = src[j];
        }
    }
}
