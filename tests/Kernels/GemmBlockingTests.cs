using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The GEMM's cache blocking from the machine's cache sizes: the block sizes each reported machine gets, and correct (and
/// thread-count-independent) results whatever caches are injected — tiny ones (many K blocks and one-panel N chunks, every
/// block edge inside the shapes), huge ones (one block), odd sizes that are no power of two.
/// </summary>
public class GemmBlockingTests
{
    private static readonly CpuCaches Tiny = new(1 << 10, 2 << 10, 8 << 10, "test: tiny");
    private static readonly CpuCaches Huge = new(1 << 30, 1L << 40, 1L << 40, "test: huge");
    private static readonly CpuCaches Odd = new(48 << 10 | 448, (1 << 20) + (1 << 18) + 4000, 3 << 20, "test: odd");

    [Theory]
    // Zen 3: L1d 32 KiB, L2 512 KiB; the 6 × 16 AVX2 tile: 6·4·Kc ≤ 16 KiB → 682, capped at 512; 512·Nc·4 ≤ 256 KiB → 128.
    [InlineData(32 << 10, 512 << 10, 6, 16, 512, 128)]
    // Zen 4: L1d 32 KiB, L2 1 MiB; the 12 × 32 AVX-512 tile: 12·4·Kc ≤ 16 KiB → 341 → 320; 320·Nc·4 ≤ 512 KiB → 12 panels.
    [InlineData(32 << 10, 1 << 20, 12, 32, 320, 384)]
    // Zen 5: L1d 48 KiB, L2 1 MiB: 512 and 8 panels.
    [InlineData(48 << 10, 1 << 20, 12, 32, 512, 256)]
    // The 6 × 8 SSE/AVX tile on Zen 3, and the 12 × 8 NEON tile with a 64 KiB L1d and 1 MiB L2 (Graviton 3).
    [InlineData(32 << 10, 512 << 10, 6, 8, 512, 128)]
    [InlineData(64 << 10, 1 << 20, 12, 8, 512, 256)]
    // Tiny and huge caches stay within the bounds: Kc ≥ 32 and ≥ one B̃ panel; Kc ≤ 512 and ≤ 256 panels.
    [InlineData(1 << 10, 2 << 10, 6, 16, 32, 16)]
    [InlineData(1 << 30, 1L << 40, 4, 4, 512, 1024)]
    public void Block_sizes_follow_the_caches(long l1, long l2, int mr, int nr, int kcMax, int ncMax)
    {
        var blocking = GemmBlocking.For(mr, nr, new CpuCaches(l1, l2, 32 << 20, "test"));
        Assert.Equal(kcMax, blocking.KcMax);
        Assert.Equal(ncMax, blocking.NcMax);
        Assert.Equal(0, blocking.NcMax % nr);
    }

    [Fact]
    public void The_plan_records_its_blocking_and_stays_within_it()
    {
        var blocking = GemmBlocking.For<KernelScalar>(Odd);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (100, 3000, 5000), (37, 1001, 999) })
            foreach (int threads in new[] { 1, 2, 7 })
            {
                var plan = GemmDriver.MakePlan<KernelScalar>(new GemmArgs { M = m, N = n, K = k }, threads, blocking);
                Assert.Equal(blocking, plan.Blocking);
                Assert.InRange(plan.Kc, 1, blocking.KcMax);
                Assert.InRange(plan.Nc, KernelScalar.NR, blocking.NcFor(plan.Kc, KernelScalar.NR));
                Assert.True(blocking.NcFor(plan.Kc, KernelScalar.NR) >= blocking.NcMax);
                Assert.True((long)plan.Kc * plan.KBlocks >= k && (long)plan.Nc * plan.NChunks >= n);
                // The K blocks (hence the sums) depend on the shape and the caches only, never on the threads.
                var one = GemmDriver.MakePlan<KernelScalar>(new GemmArgs { M = m, N = n, K = k }, 1, blocking);
                Assert.Equal((one.Kc, one.KBlocks, one.Splits, one.BlocksPerSplit), (plan.Kc, plan.KBlocks, plan.Splits, plan.BlocksPerSplit));
            }
    }

    [Fact]
    public void Blocking_description_names_the_tile_the_blocks_and_the_caches()
    {
        string text = Sgemm.Describe(GemmKernelKind.Vector256, new CpuCaches(32 << 10, 512 << 10, 32 << 20, "sysfs"));
        Assert.Equal("AVX2 6 × 16: Kc 512, Nc 128 (L1d 32 KiB, L2 512 KiB, sysfs)", text);
        Assert.Contains(CpuCaches.Current.Source, Sgemm.Blocking);
        // The Vector128 tile is the platform's: 12 × 8 with by-lane FMAs on ARM64 (32 NEON registers), 6 × 8 on x64 (16).
        Assert.StartsWith(GemmVector128.HasLaneMultiplyAdd ? "Vector128 (NEON) 12 × 8: Kc 320" : "Vector128 (SSE) 6 × 8: Kc 512",
            Sgemm.Describe(GemmKernelKind.Vector128, new CpuCaches(32 << 10, 512 << 10, 32 << 20, "sysfs")));
    }

    public static TheoryData<string, string> KindsAndCaches()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in GemmTests.KindNames())
            foreach (var caches in new[] { nameof(Tiny), nameof(Huge), nameof(Odd) })
                data.Add(kind, caches);
        return data;
    }

    [Theory]
    [MemberData(nameof(KindsAndCaches))]
    public void Results_are_right_whatever_the_caches(string kind, string cachesName)
    {
        var caches = cachesName switch { nameof(Tiny) => Tiny, nameof(Huge) => Huge, _ => Odd };
        var run = GemmTests.Runner(kind, caches);
        // K around the AVX-512 tile's block for these caches (tiny: 32 for every tile, so every K block edge is crossed).
        int seed = 40000, kc = Math.Min(GemmBlocking.For(12, 32, caches).KcMax, 300);
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            // K just past one and two K blocks, N past a chunk, M past a few tiles; alpha/beta; padded strides.
            GemmTests.Check(run, kind, 2, ta, tb, 13, 37, kc + 1, 1f, 0f, seed++);
            GemmTests.Check(run, kind, 1, ta, tb, 29, 70, 2 * kc + 3, -0.5f, 2f, seed++, padA: 1, padB: 2, padC: 3);
            GemmTests.Check(run, kind, 2, ta, tb, 7, 133, 65, 1f, 1f, seed++, padC: 5);
        }
        // Split-K (long K, small C) and a forced pack-ahead, on the injected blocking.
        GemmTests.Check(run, kind, 2, false, true, 9, 20, 2100, 1f, 0.5f, seed++);
        GemmDriver.PackAheadOverride = 1;
        try { GemmTests.Check(run, kind, 2, false, false, 13, 301, 2 * kc + 5, 1f, 0f, seed++, padB: 3); }
        finally { GemmDriver.PackAheadOverride = 0; }
    }

    [Theory]
    [MemberData(nameof(KindsAndCaches))]
    public void Results_do_not_depend_on_the_thread_count_whatever_the_caches(string kind, string cachesName)
    {
        var caches = cachesName switch { nameof(Tiny) => Tiny, nameof(Huge) => Huge, _ => Odd };
        var run = GemmTests.Runner(kind, caches);
        foreach (var (m, n, k) in new[] { (50, 300, 700), (20, 40, 3000) })
        {
            var a = TestRandom.Uniform(m * k, 1);
            var b = TestRandom.Uniform(k * n, 2);
            var c1 = new float[m * n];
            var c2 = new float[m * n];
            var c3 = new float[m * n];
            run(1, false, false, m, n, k, 1f, a, k, b, n, 0f, c1, n);
            run(2, false, false, m, n, k, 1f, a, k, b, n, 0f, c2, n);
            run(3, false, false, m, n, k, 1f, a, k, b, n, 0f, c3, n);
            KernelSweep.Exact(c1, c2, $"{kind} {cachesName} {m}×{k}·{n} 1 vs 2 threads");
            KernelSweep.Exact(c1, c3, $"{kind} {cachesName} {m}×{k}·{n} 1 vs 3 threads");
        }
    }
}
