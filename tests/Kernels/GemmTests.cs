using System.Runtime.Intrinsics;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>A GEMM call through one micro-kernel, blocked for given caches.</summary>
public delegate void GemmRunner(int threads, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
    ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);

/// <summary>
/// The SGEMM against a plain triple loop in double, for every micro-kernel this machine runs (AVX-512, AVX2, Vector128,
/// the ARM64 12-row Vector128 shape, scalar), every transpose combination, alpha/beta variants, padded leading dimensions
/// and every tail around the tiles.
/// </summary>
public class GemmTests
{
    /// <summary>The 12 × 8 NEON tile shape, run here by broadcasts (on ARM64 the lane FMA runs it; see run-arm64).</summary>
    public const string Arm64Shape = "Vector128x12";

    /// <summary>
    /// The same tile through the kernel's by-lane branch (four Ã values loaded as one vector, multiplied by lane), with the
    /// lane FMA emulated: checks the branch's rows-to-lanes mapping on a machine without NEON.
    /// </summary>
    public const string Arm64Lanes = "Vector128x12-lanes";

    public static TheoryData<string> Kinds() => new(KindNames());

    /// <summary>Every kernel this machine runs, by name: the families, and the ARM64 tile shape where 128-bit SIMD runs.</summary>
    public static IEnumerable<string> KindNames()
    {
        foreach (var kind in new[] { GemmKernelKind.Vector512, GemmKernelKind.Vector256, GemmKernelKind.Vector128, GemmKernelKind.Scalar })
            if (Sgemm.IsSupported(kind)) yield return kind.ToString();
        if (Vector128.IsHardwareAccelerated)
        {
            yield return Arm64Shape;
            yield return Arm64Lanes;
        }
    }

    /// <summary>The kernel a Kinds() name stands for, blocked for the given caches (this machine's by default).</summary>
    internal static GemmRunner Runner(string kind, CpuCaches? caches = null)
    {
        var cc = caches ?? CpuCaches.Current;
        if (kind == Arm64Shape)
            return (threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
                Sgemm.Run<VectorKernel<GemmVector128, Vector128<float>, Rows12>>(threads, cc, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (kind == Arm64Lanes)
            return (threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
                Sgemm.Run<VectorKernel<LaneEmulatedVector128, Vector128<float>, Rows12>>(threads, cc, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        var gk = Enum.Parse<GemmKernelKind>(kind);
        return (threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
            Sgemm.Run(gk, threads, cc, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static readonly (bool A, bool B)[] s_transposes = { (false, false), (false, true), (true, false), (true, true) };

    // Around every micro-tile edge (MR = 12/6/4, NR = 32/16/4; 4/8-row and 16-column edge variants), plus primes.
    private static readonly int[] s_edges = { 1, 4, 5, 8, 11, 12, 13, 16, 20, 31, 32, 33, 63, 64, 65 };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Sweep_M_N_K_1_to_40_all_transposes(string kind)
    {
        int seed = 1;
        foreach (var (ta, tb) in s_transposes)
            for (int s = 1; s <= 40; s++)
            {
                Check(kind, 1, ta, tb, s, 33, 17, 1f, 0f, seed++);
                Check(kind, 1, ta, tb, 13, s, 17, 1f, 0f, seed++);
                Check(kind, 1, ta, tb, 13, 33, s, 1f, 0f, seed++);
            }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Tile_edges_cross_K_block_edges(string kind)
    {
        int seed = 1000;
        foreach (var (ta, tb) in s_transposes)
            foreach (int m in s_edges)
                foreach (int n in s_edges)
                    foreach (int k in new[] { 1, 7, 257 })
                        Check(kind, 2, ta, tb, m, n, k, 1f, 0f, seed++);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Alpha_beta_and_padded_strides(string kind)
    {
        int seed = 5000;
        foreach (var (ta, tb) in s_transposes)
            foreach (var (alpha, beta) in new[] { (1f, 0f), (1f, 1f), (-1.5f, 0.5f), (0.25f, -2f), (0f, 0.5f), (0f, 0f) })
            {
                Check(kind, 2, ta, tb, 29, 45, 70, alpha, beta, seed++);
                Check(kind, 2, ta, tb, 29, 45, 70, alpha, beta, seed++, padA: 3, padB: 5, padC: 7);
                Check(kind, 2, ta, tb, 12, 32, 300, alpha, beta, seed++, padA: 1, padB: 16, padC: 32);
                // Long K, small C: the split-K path (partials added to C in split order).
                Check(kind, 2, ta, tb, 13, 33, 2100, alpha, beta, seed++, padA: 2, padB: 3, padC: 5);
            }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Empty_and_single_element_shapes(string kind)
    {
        int seed = 7000;
        foreach (var (ta, tb) in s_transposes)
            foreach (var (m, n, k) in new[] { (0, 5, 3), (5, 0, 3), (5, 3, 0), (0, 0, 0), (1, 1, 1), (1, 1, 0), (1, 7, 1), (7, 1, 1), (1, 1, 300) })
            {
                Check(kind, 2, ta, tb, m, n, k, 1f, 0f, seed++);
                Check(kind, 2, ta, tb, m, n, k, 2f, 0.5f, seed++);
            }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Larger_than_a_cache_block(string kind)
    {
        int seed = 9000;
        // Scalar runs are ~30× slower than the vector kernels: give them one combination of each shape.
        foreach (var (ta, tb) in kind == nameof(GemmKernelKind.Scalar) ? s_transposes[1..3] : s_transposes)
        {
            Check(kind, 2, ta, tb, 257, 1031, 300, 1f, 0f, seed++);
            Check(kind, 2, ta, tb, 1000, 17, 1031, 0.5f, 1f, seed++, padA: 3, padB: 1, padC: 9);
        }
    }

    [Fact]
    public void Public_entry_point_matches_reference_on_thin_conv_like_shapes()
    {
        int seed = 11000;
        foreach (var (ta, tb) in s_transposes)
        {
            Check(PublicEntryPoint, Environment.ProcessorCount, ta, tb, 32, 1024, 27, 1f, 0f, seed++);
            Check(PublicEntryPoint, Environment.ProcessorCount, ta, tb, 64, 700, 576, 1f, 1f, seed++);
            Check(PublicEntryPoint, Environment.ProcessorCount, ta, tb, 24, 40, 5000, 1f, 0f, seed++);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Result_does_not_depend_on_the_thread_count(string kind)
    {
        var run = Runner(kind);
        foreach (var (ta, tb) in s_transposes)
            foreach (var (m, n, k) in new[] { (300, 600, 520), (40, 3000, 100), (70, 50, 3000) })
            {
                var (a, lda) = Operand(ta ? k : m, ta ? m : k, 0, 1);
                var (b, ldb) = Operand(tb ? n : k, tb ? k : n, 0, 2);
                var c1 = new float[m * n];
                var c4 = new float[m * n];
                run(1, ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c1, n);
                run(4, ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c4, n);
                Assert.Equal(c1, c4);
            }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public void Large_aligned_C_takes_the_streaming_store_path(float beta)
    {
        // C of 16 × 131088 floats (8 MiB+) in a 64-byte-aligned buffer with ldc % 16 == 0: the last K block is written with
        // non-temporal stores. K = 260 gives two K blocks (the first one plain, the second streamed, beta applied once).
        const int m = 16, n = 131072 + 16, k = 260, ldc = n + 16;
        var a = TestRandom.Uniform(m * k, 1);
        var b = TestRandom.Uniform(k * n, 2);
        var storage = GC.AllocateArray<float>(m * ldc + 16, pinned: true);
        int offset;
        unsafe
        {
            fixed (float* p = storage) offset = (int)((64 - ((nint)p & 63)) & 63) / sizeof(float);
        }
        var c = storage.AsSpan(offset, m * ldc);
        var c0 = TestRandom.Uniform(m * ldc, 3);
        c0.CopyTo(c);
        if (beta == 0f) TestRandom.Poison(c);
        Sgemm.Run(false, false, m, n, k, 1f, a, k, b, n, beta, c, ldc);

        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j += j < n - 48 ? 7 : 1) // every 7th column, and every column of the edge tiles
            {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = a[i * k + p] * (double)b[p * n + j];
                    sum += x;
                    magnitude += Math.Abs(x);
                }
                double old = c0[i * ldc + j];
                double expected = sum + beta * old;
                double tolerance = (k + 8) * Math.Pow(2, -24) * (magnitude + Math.Abs(beta * old));
                if (!(Math.Abs(c[i * ldc + j] - expected) <= tolerance))
                    Assert.Fail($"beta={beta}: c[{i},{j}] = {c[i * ldc + j]}, expected {expected} ± {tolerance}.");
            }
    }

    /// <summary>The kernel families (the pre-packed path runs one per family: NR 32, 16, 8, 4).</summary>
    public static TheoryData<string> Families()
    {
        var data = new TheoryData<string>();
        foreach (var kind in new[] { GemmKernelKind.Auto, GemmKernelKind.Vector512, GemmKernelKind.Vector256, GemmKernelKind.Vector128, GemmKernelKind.Scalar })
            if (Sgemm.IsSupported(kind)) data.Add(kind.ToString());
        return data;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public unsafe void Prepacked_B_gives_bitwise_the_result_of_packing_it(string family)
    {
        // Whole-K panels read in place must give exactly what the driver computes after packing B itself: across NR tails,
        // several N chunks and K blocks (this machine's blocking, and a tiny one: Kc 32, Nc one panel), M edges,
        // alpha/beta, and 1 or 2 threads. The panel columns past n hold NaN: they must never reach C.
        var kind = Enum.Parse<GemmKernelKind>(family);
        var tiny = new CpuCaches(1 << 10, 4 << 10, 64 << 10, "test");
        int w = Sgemm.PanelWidth(kind == GemmKernelKind.Auto ? Sgemm.AutoKind : kind), seed = 9000;
        foreach (int m in new[] { 1, 5, 12, 13, 64 })
        foreach (int n in new[] { 1, 31, w + 1, 600 })
        foreach (int k in new[] { 1, 7, 300 })
        foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1f) })
        {
            var a = TestRandom.Uniform(m * k, seed++);
            var b = TestRandom.Uniform(k * n, seed++);
            var packed = PanelsWithNaNPadding(b, k, n, w);
            var expected = TestRandom.Uniform(m * n, seed++);
            var actual = (float[])expected.Clone();
            int threads = 1 + seed % 2;
            var caches = seed % 3 == 0 ? tiny : CpuCaches.Current;
            Sgemm.Run(kind, threads, caches, false, false, m, n, k, alpha, a, k, b, n, beta, expected, n);
            fixed (float* pb = packed)
            {
                if (kind == GemmKernelKind.Auto && caches == CpuCaches.Current)
                    Sgemm.RunPrepackedB(m, n, k, alpha, a, k, pb, packed.Length, beta, actual, n, threads);
                else Sgemm.RunPrepackedB(kind, caches, m, n, k, alpha, a, k, pb, packed.Length, beta, actual, n, threads);
            }
            KernelSweep.Exact(expected, actual, $"{family} m={m} n={n} k={k} alpha={alpha} beta={beta} threads={threads} {caches.Source}");
        }
    }

    /// <summary>b (k, n) row-major in whole-K panels of w columns, as RunPrepackedB reads them; columns past n hold NaN.</summary>
    private static float[] PanelsWithNaNPadding(float[] b, int k, int n, int w)
    {
        int panels = (n + w - 1) / w;
        var packed = new float[panels * k * w];
        for (int jp = 0; jp < panels; jp++)
            for (int p = 0; p < k; p++)
                for (int j = 0; j < w; j++)
                    packed[(jp * k + p) * w + j] = jp * w + j < n ? b[p * n + jp * w + j] : float.NaN;
        return packed;
    }

    [Fact]
    public unsafe void Prepacked_B_shorter_than_its_panels_is_refused()
    {
        int w = Sgemm.PackedPanelWidth;
        var packed = new float[2 * 3 * w - 1]; // n = w + 1 needs two whole panels of k = 3
        var ex = Assert.Throws<ArgumentException>(() =>
        {
            fixed (float* pb = packed)
                Sgemm.RunPrepackedB(2, w + 1, 3, 1f, new float[6], 3, pb, packed.Length, 0f, new float[2 * (w + 1)], w + 1, 1);
        });
        Assert.Contains("pre-packed", ex.Message);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pack_ahead_matches_the_reference_across_tails_chunks_and_K_blocks(string kind)
    {
        // Forced on for small shapes, so every tail is cheap to reach: M edges (no full Ã panel at all for M < MR), a
        // partial last B̃ panel, chunk sequences that end mid-block (N = 1100: chunks of NcMax and a tail), one or
        // several K blocks (K up to 520), padded strides (the NaN padding of op(B) must never be copied into C), alpha/beta,
        // and two threads claiming chunks from one counter.
        int seed = 20000;
        GemmDriver.PackAheadOverride = 1;
        try
        {
            foreach (int m in new[] { 1, 5, 13, 64 })
                foreach (int n in new[] { 31, 33, 1100 })
                    foreach (int k in new[] { 1, 7, 300 })
                        Check(kind, 2, false, false, m, n, k, 1f, 0f, seed++, padB: 3);
            // One full Ã panel (M = 12..23) and a last K block shorter than the next chunk's first: a block has more next
            // pieces than its tiles have k steps, and the rest is copied after the tiles.
            foreach (int m in new[] { 12, 16 })
                foreach (int k in new[] { 257, 301, 511 })
                    Check(kind, 2, false, false, m, 1100, k, 1f, 0f, seed++);
            foreach (var (alpha, beta) in new[] { (1f, 1f), (-1.5f, 0.5f), (0f, 0.5f) })
                Check(kind, 2, false, false, 24, 700, 520, alpha, beta, seed++, padA: 1, padB: 16, padC: 32);
        }
        finally
        {
            GemmDriver.PackAheadOverride = 0;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pack_ahead_gives_bitwise_the_result_of_packing_each_block(string kind)
    {
        // The same blocking and the same micro-kernel sums, only the packing moves into the tiles: results must be identical.
        var run = Runner(kind);
        int seed = 21000;
        foreach (int m in new[] { 1, 12, 13, 16, 96 })
            foreach (int n in new[] { 33, 1100 })
                foreach (int k in new[] { 7, 301, 600 })
                    foreach (int threads in new[] { 1, 2 })
                    {
                        var a = TestRandom.Uniform(m * k, seed++);
                        var b = TestRandom.Uniform(k * n, seed++);
                        var expected = TestRandom.Uniform(m * n, seed++);
                        var actual = (float[])expected.Clone();
                        GemmDriver.PackAheadOverride = -1;
                        try { run(threads, false, false, m, n, k, 0.75f, a, k, b, n, 1f, expected, n); }
                        finally { GemmDriver.PackAheadOverride = 1; }
                        try { run(threads, false, false, m, n, k, 0.75f, a, k, b, n, 1f, actual, n); }
                        finally { GemmDriver.PackAheadOverride = 0; }
                        KernelSweep.Exact(expected, actual, $"{kind} m={m} n={n} k={k} threads={threads}");
                    }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public unsafe void Row_items_over_prepacked_B_give_bitwise_the_column_split(string family)
    {
        // B̃ given packed and 2 threads: each item packs and runs its own rows. Against the same calls split by columns
        // (and sharing the packing of A): M edges, several N chunks and K blocks (this machine's blocking, and a tiny one),
        // alpha/beta. The panel columns past n hold NaN: they must never reach C.
        var kind = Enum.Parse<GemmKernelKind>(family);
        var resolved = kind == GemmKernelKind.Auto ? Sgemm.AutoKind : kind;
        var tiny = new CpuCaches(1 << 10, 4 << 10, 64 << 10, "test");
        int w = Sgemm.PanelWidth(resolved), seed = 7000;
        int saved = ParallelFor.ThreadCount;
        ParallelFor.ThreadCount = 2;
        try
        {
            foreach (var caches in new[] { CpuCaches.Current, tiny })
            foreach (int m in new[] { 24, 61, 128 })
            foreach (int n in new[] { w + 3, 300 })
            foreach (int k in new[] { 200, 785 })
            foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1f) })
            {
                var a = TestRandom.Uniform(m * k, seed++);
                var b = TestRandom.Uniform(k * n, seed++);
                var packed = PanelsWithNaNPadding(b, k, n, w);
                var expected = TestRandom.Uniform(m * n, seed++);
                var actual = (float[])expected.Clone();
                fixed (float* pb = packed)
                {
                    // Row items first: Ã scratch the column split left behind must not stand in for panels an item skipped.
                    Sgemm.RunPrepackedB(kind, caches, m, n, k, alpha, a, k, pb, packed.Length, beta, actual, n, 2);
                    GemmDriver.OwnRowsOverride = -1;
                    try { Sgemm.RunPrepackedB(kind, caches, m, n, k, alpha, a, k, pb, packed.Length, beta, expected, n, 2); }
                    finally { GemmDriver.OwnRowsOverride = 0; }
                }
                KernelSweep.Exact(expected, actual, $"{family} m={m} n={n} k={k} alpha={alpha} beta={beta} {caches.Source}");
            }
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    [Fact]
    public unsafe void Row_items_are_planned_for_prepacked_B_only_with_rows_to_share()
    {
        var prepacked = new GemmArgs { M = 128, N = 128, K = 784, PackedB = (float*)16 };
        var plan = GemmDriver.MakePlan<Kernel512>(prepacked, 2, Blocking512);
        Assert.True(plan.OwnRows);
        Assert.Equal(plan.MChunks, plan.Items);
        Assert.InRange(plan.MChunks, 2, 4); // two a thread at most, and never one item for two threads
        // Not: B packed here (the columns split), A given packed too, one thread, or too few rows for two threads.
        Assert.False(GemmDriver.MakePlan<Kernel512>(prepacked with { PackedB = null }, 2, Blocking512).OwnRows);
        Assert.False(GemmDriver.MakePlan<Kernel512>(prepacked with { PackedA = (float*)16 }, 2, Blocking512).OwnRows);
        Assert.False(GemmDriver.MakePlan<Kernel512>(prepacked, 1, Blocking512).OwnRows);
        Assert.False(GemmDriver.MakePlan<Kernel512>(prepacked with { M = 18 }, 2, Blocking512).OwnRows);

        // The bitwise test above runs row items in every family (its 61- and 128-row shapes), and from 0.5 MFLOP.
        var rows = new GemmArgs { M = 64, N = 300, K = 200, PackedB = (float*)16 };
        Assert.True(RowItems<Kernel512>(rows));
        Assert.True(RowItems<VectorKernel<GemmVector256, Vector256<float>, Rows6>>(rows));
        Assert.True(RowItems<VectorKernel<GemmVector128, Vector128<float>, Rows6>>(rows));
        Assert.True(RowItems<VectorKernel<GemmVector128, Vector128<float>, Rows12>>(rows));
        Assert.True(RowItems<KernelScalar>(rows));
        Assert.True(RowItems<KernelScalar>(rows with { N = 24 }));   // 0.61 MFLOP: shared
        Assert.False(RowItems<KernelScalar>(rows with { N = 16 }));  // 0.41 MFLOP: on the caller

        static bool RowItems<TKernel>(GemmArgs g) where TKernel : struct, IMicroKernel =>
            GemmDriver.MakePlan<TKernel>(g, 2, GemmBlocking.For<TKernel>(CpuCaches.Current)).OwnRows;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public unsafe void A_read_in_place_gives_bitwise_the_packed_result(string family)
    {
        // B̃ given packed: whole Ã panels are read where they lie in A, only a last partial panel is packed. Against the same
        // calls with Ã packed: M edges (a partial panel, or none), N tails (an in-place edge tile), several K blocks, row
        // stride lda > k, alpha/beta, 1 thread (the column items) and 2 (row items). A's padding columns and the rows past m
        // hold NaN: a read outside the rows and K block would reach C.
        var kind = Enum.Parse<GemmKernelKind>(family);
        var resolved = kind == GemmKernelKind.Auto ? Sgemm.AutoKind : kind;
        var tiny = new CpuCaches(1 << 10, 4 << 10, 64 << 10, "test");
        int w = Sgemm.PanelWidth(resolved), seed = 7700;
        int saved = ParallelFor.ThreadCount;
        ParallelFor.ThreadCount = 2;
        try
        {
            foreach (var caches in new[] { CpuCaches.Current, tiny })
            foreach (int m in new[] { 1, 12, 13, 61, 128 })
            foreach (int n in new[] { w + 3, 300 })
            foreach (int k in new[] { 7, 785 })
            foreach (int threads in new[] { 1, 2 })
            {
                var (alpha, beta) = seed % 2 == 0 ? (1f, 0f) : (-0.5f, 1f);
                int lda = k + 5;
                var a = new float[(m + 12) * lda]; // whole NaN tiles past the last row, up to 12
                Array.Fill(a, float.NaN);
                var values = TestRandom.Uniform(m * k, seed++);
                for (int i = 0; i < m; i++) Array.Copy(values, i * k, a, i * lda, k);
                var b = TestRandom.Uniform(k * n, seed++);
                var packed = PanelsWithNaNPadding(b, k, n, w);
                var expected = TestRandom.Uniform(m * n, seed++);
                var actual = (float[])expected.Clone();
                fixed (float* pb = packed)
                {
                    Sgemm.RunPrepackedB(kind, caches, m, n, k, alpha, a, lda, pb, packed.Length, beta, actual, n, threads);
                    GemmDriver.InPlaceAOverride = -1;
                    try { Sgemm.RunPrepackedB(kind, caches, m, n, k, alpha, a, lda, pb, packed.Length, beta, expected, n, threads); }
                    finally { GemmDriver.InPlaceAOverride = 0; }
                }
                Assert.DoesNotContain(actual, float.IsNaN);
                KernelSweep.Exact(expected, actual, $"{family} m={m} n={n} k={k} threads={threads} alpha={alpha} beta={beta} {caches.Source}");
            }
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    [Fact]
    public unsafe void A_is_read_in_place_only_over_prepacked_B_by_kernels_that_can()
    {
        var g = new GemmArgs { M = 128, N = 128, K = 784, Lda = 784, PackedB = (float*)16 };
        Assert.True(Plan<VectorKernel<GemmVector256, Vector256<float>, Rows6>>(g, 2).InPlaceA);
        Assert.True(Plan<VectorKernel<GemmVector128, Vector128<float>, Rows6>>(g, 1).InPlaceA);
        Assert.True(Plan<VectorKernel<GemmVector128, Vector128<float>, Rows12>>(g, 2).InPlaceA);
        Assert.True(Plan<KernelScalar>(g, 2).InPlaceA);
        Assert.True(Plan<Kernel512>(g, 2).InPlaceA);
        // Rows 12 KiB apart all fall on one L1 set: 12 rows would evict each other, 6 do not; 2 KiB apart: 6 a set.
        Assert.False(Plan<Kernel512>(g with { K = 3072, Lda = 3072 }, 2).InPlaceA);
        Assert.True(Plan<VectorKernel<GemmVector256, Vector256<float>, Rows6>>(g with { K = 3072, Lda = 3072 }, 2).InPlaceA);
        Assert.True(Plan<Kernel512>(g with { K = 512, Lda = 512 }, 2).InPlaceA);
        Assert.False(Plan<Kernel512>(g with { Lda = 1024 }, 2).InPlaceA);
        // Not: B packed here, A given packed, A transposed.
        Assert.False(Plan<KernelScalar>(g with { PackedB = null }, 2).InPlaceA);
        Assert.False(Plan<KernelScalar>(g with { PackedA = (float*)16 }, 2).InPlaceA);
        Assert.False(Plan<KernelScalar>(g with { TransposeA = true }, 2).InPlaceA);
        // Only a partial last panel is packed: 128 rows of 6 leave panel 21 (2 rows); 120 rows leave none.
        Assert.Equal(21, Plan<VectorKernel<GemmVector256, Vector256<float>, Rows6>>(g, 2).FirstPackedPanel);
        Assert.Equal(20, Plan<VectorKernel<GemmVector256, Vector256<float>, Rows6>>(g with { M = 120 }, 2).FirstPackedPanel); // = PanelsM: none
        Assert.Equal(10, Plan<Kernel512>(g, 2).FirstPackedPanel); // 128 rows of 12: panel 10 holds the last 8

        static GemmPlan Plan<TKernel>(GemmArgs g, int threads) where TKernel : struct, IMicroKernel =>
            GemmDriver.MakePlan<TKernel>(g, threads, GemmBlocking.For<TKernel>(CpuCaches.Current));
    }

    [Fact]
    public void Pack_ahead_chosen_by_shape_matches_packing_each_block_when_K_blocks_are_uneven()
    {
        // 16 × 315 · 6700 (op(B) 8.4 MB): pack-ahead by the shape's own choice, K = 315 → blocks of 158 and 157, so the last
        // block of a chunk is shorter than the next chunk's first. Bitwise against the same call with pack-ahead off.
        const int m = 16, n = 6700, k = 315;
        Assert.True(GemmDriver.MakePlan<Kernel512>(new GemmArgs { M = m, N = n, K = k }, 2, Blocking512).PackAhead);
        var a = TestRandom.Uniform(m * k, 1);
        var b = TestRandom.Uniform(k * n, 2);
        var expected = new float[m * n];
        var actual = new float[m * n];
        GemmDriver.PackAheadOverride = -1;
        try { Sgemm.Run(GemmKernelKind.Auto, 2, false, false, m, n, k, 1f, a, k, b, n, 0f, expected, n); }
        finally { GemmDriver.PackAheadOverride = 0; }
        Sgemm.Run(GemmKernelKind.Auto, 2, false, false, m, n, k, 1f, a, k, b, n, 0f, actual, n);
        KernelSweep.Exact(expected, actual, $"{m}×{k}·{n}");
    }

    [Fact]
    public void Thin_conv_shape_with_op_B_from_memory_packs_ahead_and_matches_the_reference()
    {
        // 64 × 576 · 4000 (op(B) 9.2 MB): the shape of a conv layer's forward GEMM, on the pack-ahead path by its own choice.
        const int m = 64, n = 4000, k = 576;
        var plan = GemmDriver.MakePlan<Kernel512>(new GemmArgs { M = m, N = n, K = k }, 2, Blocking512);
        Assert.True(plan.PackAhead, "a thin op(A) with an op(B) of 8 MiB or more should pack ahead");
        Assert.False(GemmDriver.MakePlan<Kernel512>(new GemmArgs { M = m, N = n, K = k, TransposeB = true }, 2, Blocking512).PackAhead);
        Assert.False(GemmDriver.MakePlan<Kernel512>(new GemmArgs { M = 128, N = n, K = k }, 2, Blocking512).PackAhead);

        var a = TestRandom.Uniform(m * k, 1);
        var b = TestRandom.Uniform(k * n, 2);
        var c = new float[m * n];
        TestRandom.Poison(c);
        Sgemm.Run(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
        for (int i = 0; i < m; i++)
            for (int j = i % 5; j < n; j += 5) // every 5th column, shifted per row: every tile and chunk is sampled
            {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = a[i * k + p] * (double)b[p * n + j];
                    sum += x;
                    magnitude += Math.Abs(x);
                }
                double tolerance = (k + 8) * Math.Pow(2, -24) * magnitude;
                if (!(Math.Abs(c[i * n + j] - sum) <= tolerance))
                    Assert.Fail($"c[{i},{j}] = {c[i * n + j]}, expected {sum} ± {tolerance}.");
            }
    }

    [Fact]
    public void Rejects_short_spans_and_strides()
    {
        var x = new float[100];
        Assert.Throws<ArgumentException>(() => Sgemm.Run(false, false, 10, 10, 10, 1f, x, 9, x, 10, 0f, x, 10));
        Assert.Throws<ArgumentException>(() => Sgemm.Run(false, false, 10, 10, 11, 1f, x, 11, x, 10, 0f, x, 10));
        Assert.Throws<ArgumentException>(() => Sgemm.Run(false, true, 10, 10, 10, 1f, x, 10, x, 10, 0f, new float[99], 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sgemm.Run(false, false, -1, 10, 10, 1f, x, 10, x, 10, 0f, x, 10));
        // Empty operands are never read: a zero stride (a (M, 0) tensor) is fine, and k = 0 still applies beta to C.
        var c = new float[] { 2f, 4f };
        Sgemm.Run(false, false, 1, 2, 0, 1f, Array.Empty<float>(), 0, Array.Empty<float>(), 2, 0.5f, c, 2);
        Assert.Equal(new[] { 1f, 2f }, c);
    }

    /// <summary>A stored (rows, cols) operand with row stride cols + pad; the padding is NaN so reading it shows up.</summary>
    internal static (float[] Data, int Stride) Operand(int rows, int cols, int pad, int seed)
    {
        int stride = Math.Max(1, cols + pad);
        var data = TestRandom.Uniform(Math.Max(0, (rows - 1) * stride + cols), seed);
        for (int r = 0; r < rows; r++)
            for (int j = cols; j < stride && r * stride + j < data.Length; j++) data[r * stride + j] = float.NaN;
        return (data, stride);
    }

    private static readonly GemmBlocking Blocking512 = GemmBlocking.For<Kernel512>(CpuCaches.Current);

    /// <summary>Check's name for the public entry point (Auto kind, this machine's caches, the process's threads).</summary>
    private const string PublicEntryPoint = "public";

    private static void Check(string kind, int threads, bool ta, bool tb, int m, int n, int k, float alpha, float beta,
        int seed, int padA = 0, int padB = 0, int padC = 0)
    {
        if (kind == PublicEntryPoint)
            Check((_, ta2, tb2, m2, n2, k2, alpha2, a, lda, b, ldb, beta2, c, ldc) => Sgemm.Run(ta2, tb2, m2, n2, k2, alpha2, a, lda, b, ldb, beta2, c, ldc),
                kind, threads, ta, tb, m, n, k, alpha, beta, seed, padA, padB, padC);
        else Check(Runner(kind), kind, threads, ta, tb, m, n, k, alpha, beta, seed, padA, padB, padC);
    }

    /// <summary>One call through <paramref name="run"/> against the double-precision reference; C's stride padding untouched.</summary>
    internal static void Check(GemmRunner run, string kind, int threads, bool ta, bool tb, int m, int n, int k, float alpha, float beta,
        int seed, int padA = 0, int padB = 0, int padC = 0)
    {
        var (a, lda) = Operand(ta ? k : m, ta ? m : k, padA, seed * 3);
        var (b, ldb) = Operand(tb ? n : k, tb ? k : n, padB, seed * 3 + 1);
        int ldc = Math.Max(1, n + padC);
        var c = TestRandom.Uniform(m * ldc, seed * 3 + 2);
        const float sentinel = 12345f;
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++) c[i * ldc + j] = sentinel;
        var c0 = (float[])c.Clone();
        // beta = 0 must not read C: poison what it would read.
        if (beta == 0f)
            for (int i = 0; i < m; i++) TestRandom.Poison(c.AsSpan(i * ldc, n));

        run(threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = ta ? a[p * lda + i] : a[i * lda + p];
                    double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                    magnitude += Math.Abs(x * y);
                }
                double old = c0[i * ldc + j];
                double expected = alpha * sum + (beta == 0f ? 0 : beta * old);
                double scale = Math.Abs(alpha) * magnitude + (beta == 0f ? 0 : Math.Abs(beta * old));
                // float32 accumulation: any summation order of k products (blocked, FMA or not) errs by at most
                // γ_k·Σ|a·b| ≈ k·u·Σ|a·b| (u = 2⁻²⁴); alpha, beta and the cross-K-block adds add a few more u. A missing or
                // doubled term errs by |a·b| ~ 0.1, orders of magnitude above this bound for the sizes tested.
                double tolerance = (k + 8) * Math.Pow(2, -24) * scale + 1e-30;
                float actual = c[i * ldc + j];
                if (!(Math.Abs(actual - expected) <= tolerance))
                    Assert.Fail($"{kind} ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta} lds=({lda},{ldb},{ldc}): " +
                                $"c[{i},{j}] = {actual}, expected {expected} ± {tolerance}.");
            }
            for (int j = n; j < ldc; j++)
                if (c[i * ldc + j] != sentinel)
                    Assert.Fail($"{kind} ta={ta} tb={tb} m={m} n={n} k={k}: wrote c[{i},{j}] in the stride padding.");
        }
    }
}

/// <summary>
/// GemmVector128 with the by-lane multiply-add switched on and emulated (broadcast the lane, multiply-add), so that the
/// micro-kernel's NEON branch runs on any machine.
/// </summary>
internal readonly unsafe struct LaneEmulatedVector128 : IGemmVector<Vector128<float>>
{
    public static int Count => GemmVector128.Count;
    public static bool IsHardwareAccelerated => GemmVector128.IsHardwareAccelerated;
    public static Vector128<float> Zero => GemmVector128.Zero;
    public static Vector128<float> Load(float* p) => GemmVector128.Load(p);
    public static void Store(float* p, Vector128<float> v) => GemmVector128.Store(p, v);
    public static Vector128<float> Create(float value) => GemmVector128.Create(value);
    public static Vector128<float> Broadcast(float* p) => GemmVector128.Broadcast(p);
    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => GemmVector128.Multiply(a, b);
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => GemmVector128.MultiplyAdd(a, b, c);
    public static bool HasLaneMultiplyAdd => true;

    public static Vector128<float> MultiplyAddByLane(Vector128<float> acc, Vector128<float> b, Vector128<float> quad, [System.Diagnostics.CodeAnalysis.ConstantExpected(Max = (byte)3)] byte lane) =>
        GemmVector128.MultiplyAdd(Vector128.Create(quad.GetElement(lane)), b, acc);
}
