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
    // block useful when a machine reports something odd (a 4 KiB L1, a 64 MiB "L2").
    internal const int KcGranule = 32, KcMin = 32, KcLimit = 1024, NcLimitPanels = 256;

    /// <summary>
    /// K block: the micro-kernel keeps one Ã micro-panel (MR × Kc) in L1 while it meets every B̃ panel of a chunk, and
    /// each B̃ micro-panel (Kc × NR) streams through L1 past it. Between two uses of a line of the Ã panel, the whole Ã
    /// panel and one whole B̃ panel are touched, so both must fit: (MR + NR) · Kc · 4 B ≤ L1d, rounded down to a multiple
    /// of 32. (Sizing Ã alone to half of L1d would let a 16-column B̃ panel push it out at every tile.) This gives the
    /// 256 tuned by hand for the 12 × 32 AVX-512 kernel on Zen 5 (48 KiB L1d: 279 → 256); 352 for the 6 × 16 AVX2
    /// kernel on Zen 3 (32 KiB), 576 for the 6 × 8 SSE kernel, 800 for the 12 × 8 NEON kernel with a 64 KiB L1d.
    ///
    /// N chunk: a chunk's B̃ block (Kc × Nc) stays in L2 while every Ã panel streams past it; half of L2, the other half
    /// for the Ã panels streaming in from L3 and the C tiles: Kc · Nc · 4 B ≤ L2 / 2, rounded down to whole B̃ panels.
    /// Zen 3 (512 KiB L2), 6 × 16 AVX2: Nc = 176.
    /// </summary>
    public static GemmBlocking For(int mr, int nr, CpuCaches caches)
    {
        long kc = caches.L1DataBytes / ((long)(mr + nr) * sizeof(float)) / KcGranule * KcGranule;
        int kcMax = (int)Math.Clamp(kc, KcMin, KcLimit);
        long panels = caches.L2Bytes / 2 / ((long)kcMax * nr * sizeof(float));
        int ncMax = (int)Math.Clamp(panels, 1, NcLimitPanels) * nr;
        return new GemmBlocking(kcMax, ncMax, caches);
    }

    public static GemmBlocking For<TKernel>(CpuCaches caches) where TKernel : struct, IMicroKernel =>
        For(TKernel.MR, TKernel.NR, caches);

    /// <summary>"Kc 352, Nc 176 (L1d 32 KiB, L2 512 KiB, sysfs)": for run headers.</summary>
    public string Describe() =>
        $"Kc {KcMax}, Nc {NcMax} (L1d {CpuCaches.FormatBytes(Caches.L1DataBytes)}, L2 {CpuCaches.FormatBytes(Caches.L2Bytes)}, {Caches.Source})";
}
