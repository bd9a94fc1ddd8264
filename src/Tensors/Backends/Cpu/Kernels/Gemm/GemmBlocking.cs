namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// The cache blocking of one micro-kernel shape on one machine: the longest K block and the widest N chunk, from the core's
/// L1d and L2 sizes (<see cref="CpuCaches"/>). The driver balances each call's blocks within these (GemmPlan.Kc, .Nc).
/// Depends on the caches and the tile shape only, never on the thread count: the same machine gives the same K blocks,
/// hence the same sums, whatever the threads.
/// </summary>
internal readonly record struct GemmBlocking(int KcMax, int NcMax, CpuCaches Caches)
{
    // Round-off granules: K blocks a multiple of 32 (whole 64-byte lines of Ã and B̃ panel rows), and bounds that keep a
    // block useful when a machine reports something odd (a 4 KiB L1, a 64 MiB "L2"). Past 512 a longer K block saves
    // less than 1/512 of C's traffic per multiply-add and has not been measured.
    internal const int KcGranule = 32, KcMin = 32, KcLimit = 512, NcLimitPanels = 256;

    /// <summary>
    /// K block: the micro-kernel keeps one Ã micro-panel (MR × Kc) in L1 while it meets every B̃ panel of a chunk, and
    /// each B̃ micro-panel (Kc × NR) streams through L1 past it. The Ã panel gets half of L1d (the other half for the
    /// streaming B̃ lines and C), as in BLIS's analytical model: MR · Kc · 4 B ≤ L1d / 2, rounded down to a multiple of
    /// 32, at most 512. A longer K block means fewer passes over C, which on two threads comes from L3: sizing the Ã panel
    /// and a whole B̃ panel together into L1d instead (the former rule) gave the 12 × 32 AVX-512 tile Kc 160 on Zen 4's
    /// 32 KiB L1d, 0.87–0.97× the speed of 256–512 at 512³–1024³ and per-image convolution shapes (2 threads); 256, 352 and
    /// 512 were within 0.99–1.07× of each other there, for the 6 × 16 AVX2 tile too (2026-12-08, call by call).
    /// This gives 320 for 12 × 32 on a 32 KiB L1d (Zen 4), 512 on 48 KiB (Zen 5, Emerald Rapids; 256 was hand-tuned on
    /// Zen 5 under the former rule), and 512 for the 6-row AVX2 and SSE tiles and the 12 × 8 NEON tile on 32–64 KiB.
    ///
    /// N chunk: a chunk's B̃ block (Kc × Nc) stays in L2 while every Ã panel streams past it; half of L2, the other half
    /// for the Ã panels streaming in from L3 and the C tiles: Kc · Nc · 4 B ≤ L2 / 2, rounded down to whole B̃ panels
    /// (<see cref="NcMax"/> at KcMax; each call's at its own K block, <see cref="NcFor"/>).
    /// Zen 4 (1 MiB L2), 12 × 32 AVX-512: Nc = 384; Zen 3 (512 KiB L2), 6 × 16 AVX2: Nc = 128.
    /// </summary>
    public static GemmBlocking For(int mr, int nr, CpuCaches caches)
    {
        long kc = caches.L1DataBytes / 2 / ((long)mr * sizeof(float)) / KcGranule * KcGranule;
        int kcMax = (int)Math.Clamp(kc, KcMin, KcLimit);
        long panels = caches.L2Bytes / 2 / ((long)kcMax * nr * sizeof(float));
        int ncMax = (int)Math.Clamp(panels, 1, NcLimitPanels) * nr;
        return new GemmBlocking(kcMax, ncMax, caches);
    }

    /// <summary>
    /// The N chunk limit for a call whose K blocks are <paramref name="kc"/> long: the same L2 budget as
    /// <see cref="NcMax"/>, which is this at KcMax. A call with a short K (an input-gradient product, K = output
    /// channels) gets chunks as wide as its B̃ block allows instead of the narrow ones sized for KcMax: with KcMax 512, 576 ×
    /// 64 · 32768 ran at 0.90× the speed of KcMax 256 (2 threads, Zen 4) until its chunks were sized by its own K.
    /// Chunks never change a sum.
    /// </summary>
    public int NcFor(int kc, int nr)
    {
        long panels = Caches.L2Bytes / 2 / ((long)Math.Clamp(kc, 1, KcMax) * nr * sizeof(float));
        return (int)Math.Clamp(panels, 1, NcLimitPanels) * nr;
    }

    public static GemmBlocking For<TKernel>(CpuCaches caches) where TKernel : struct, IMicroKernel =>
        For(TKernel.MR, TKernel.NR, caches);

    /// <summary>"Kc 512, Nc 128 (L1d 32 KiB, L2 512 KiB, sysfs)": for run headers.</summary>
    public string Describe() =>
        $"Kc {KcMax}, Nc {NcMax} (L1d {CpuCaches.FormatBytes(Caches.L1DataBytes)}, L2 {CpuCaches.FormatBytes(Caches.L2Bytes)}, {Caches.Source})";
}
