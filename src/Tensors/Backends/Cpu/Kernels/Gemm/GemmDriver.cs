using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>One GEMM call, validated: C = alpha·op(A)·op(B) + beta·C on raw (pinned) pointers; strides as stored.</summary>
internal unsafe struct GemmArgs
{
    public bool TransposeA, TransposeB;
    public int M, N, K;
    public float Alpha, Beta;
    public float* A, B, C;
    public nint Lda, Ldb, Ldc;
    /// <summary>
    /// Non-null: op(B) is already packed here, whole K per panel (<see cref="Sgemm.RunPrepackedB"/>): panel jp (columns
    /// [jp·NR, jp·NR + NR)) starts at PackedB + jp·K·NR, k-major. B, Ldb and TransposeB are then unused.
    /// </summary>
    public float* PackedB;
    /// <summary>
    /// Non-null: op(A) is already packed here in the driver's own layout for this kernel and K blocking
    /// (<see cref="Sgemm.PackA"/>: K blocks one after another, MR-row panels within), so no item packs it.
    /// </summary>
    public float* PackedA;
}

/// <summary>
/// How one call is cut up (Goto/BLIS blocking, adapted to a whole-Ã pre-pack; the limits from the machine's caches, see
/// <see cref="GemmBlocking"/>):
///   K in blocks of ≤ KcMax: an Ã micro-panel (MR × Kc) stays in L1 while it meets every B̃ panel of a chunk;
///   N in chunks of ≤ NcMax columns: a chunk's B̃ block (Kc × Nc) stays in L2 while every Ã panel streams past it;
///   the work items of the parallel loop are (K split × N chunk × M chunk); N is split first, because op(A) is packed once
///   and shared while each item packs its own B̃, so splitting M would pack the same B̃ twice — except where B̃ is given
///   packed (<see cref="GemmPlan.OwnRows"/>): there nothing of B is packed, so items are rows and each packs its own Ã;
///   K is split (split-K) only when C is small and K long (weight gradients: M = OC, N = C·9, K = pixels): split 0 writes
///   C, the others write partial products that are added to C afterwards in split order. The split count depends on the
///   shape only, never on the thread count, so the result is bitwise the same whatever the number of threads.
/// </summary>
internal struct GemmPlan
{
    /// <summary>The K block and N chunk limits this plan was cut with (from the caches and the tile shape).</summary>
    public GemmBlocking Blocking;
    /// <summary>K block length (≤ KcMax, blocks balanced) and the number of K blocks.</summary>
    public int Kc, KBlocks;
    /// <summary>Ã panels (⌈M/MR⌉) and the padded row count they cover.</summary>
    public int PanelsM, MPad;
    /// <summary>Columns per N chunk (a multiple of NR) and the number of N chunks.</summary>
    public int Nc, NChunks;
    /// <summary>Ã panels per M chunk and the number of M chunks.</summary>
    public int MChunkPanels, MChunks;
    /// <summary>K splits (1: no split-K) and the K blocks each covers.</summary>
    public int Splits, BlocksPerSplit;

    /// <summary>Threads the items are shared between (1 when the call runs inline).</summary>
    public int Threads;

    /// <summary>
    /// Pack-ahead (thin op(A), large op(B)): each micro-kernel also packs a share of the next B̃ block. The items are then
    /// lanes, one per thread, that claim N chunks themselves, so a lane knows which block comes next.
    /// </summary>
    public bool PackAhead;

    /// <summary>
    /// Row items (B̃ given packed, op(A) packed here): each item owns an M chunk, packs only its own Ã panels and runs
    /// every N chunk against them, so no item waits for another's packing and nothing is packed twice.
    /// </summary>
    public bool OwnRows;

    /// <summary>
    /// Whole Ã panels read where they lie in op(A) (B̃ given packed, op(A) not transposed, a kernel that can): no packing of
    /// A at all, only of a last panel with fewer than MR rows. A layer's activations meet each weight panel once per call,
    /// so packing them cost a sixth of an inference Dense layer's time for nothing (Zen 3, 128×784·128: 75 of 420 µs).
    /// </summary>
    public bool InPlaceA;

    /// <summary>The first Ã panel the driver packs: 0 (all), or with <see cref="InPlaceA"/> the partial last one (PanelsM when none).</summary>
    public int FirstPackedPanel;

    public readonly int Items => PackAhead ? Threads : OwnRows ? MChunks : Splits * NChunks * MChunks;
}

/// <summary>The blocked, packed, multi-threaded GEMM driver, specialised per micro-kernel.</summary>
internal static unsafe class GemmDriver
{
    // Below this many flops (2·M·N·K) a call is planned for one thread: no chunks are cut for the others (their items,
    // where the blocking or split-K makes several, still run on whichever workers are idle).
    internal const double SerialFlops = 4e6;

    // The same for row items (see GemmPlan.OwnRows), which share nothing but the weights: worth splitting from here. Zen 3,
    // 2 threads, alternated call by call: 128×128·64 1.39×, 64×128·64 1.26×, 128×256·10 1.33× over the caller alone.
    internal const double RowItemsSerialFlops = 5e5;

    // A C bigger than this (bytes) is written with non-temporal stores on its last pass: it cannot stay in cache anyway,
    // and streaming saves reading every line of it from memory before overwriting it (thin conv shapes, N = whole batch).
    internal const long StreamMinBytes = 8L << 20;

    // Split-K: only for K ≥ SplitMinK with a C of at most SplitMaxC floats, ≥ SplitMinK/2 of K per split, ≤ MaxSplits.
    internal const int SplitMinK = 2048, SplitMaxC = 512 * 512, MaxSplits = 8;

    // Pack-ahead, for thin op(A) (at most this many Ã panels: M ≤ 96 for the AVX-512 kernel) and an op(B) of at least
    // PackAheadMinBytes, which comes from memory. Each op(B) value then meets few rows of A, so packing B̃ is a large share
    // of the time (a sixth at 64×576·32768), and the micro-kernels pack the next B̃ block while they compute this one.
    // Measured on Zen 5 (2 threads): see docs/perf/gemm.md. Smaller op(B) stays in cache and packs fast enough.
    internal const int PackAheadMaxPanelsM = 8;
    internal const long PackAheadMinBytes = 8L << 20;

    /// <summary>Tests force pack-ahead on (+1) or off (−1) for the calls their thread makes; 0 decides by shape.</summary>
    [ThreadStatic] internal static int PackAheadOverride;

    /// <summary>Tests turn row items off (−1) for the calls their thread makes, to compare them with the column split; 0 decides by shape.</summary>
    [ThreadStatic] internal static int OwnRowsOverride;

    /// <summary>Tests turn reading Ã in place off (−1) for the calls their thread makes, to compare it with packing; 0 decides.</summary>
    [ThreadStatic] internal static int InPlaceAOverride;

    public static GemmPlan MakePlan<TKernel>(in GemmArgs g, int threads, GemmBlocking blocking) where TKernel : struct, IMicroKernel
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int kcMax = blocking.KcMax;
        var plan = new GemmPlan { Blocking = blocking };
        plan.KBlocks = (g.K + kcMax - 1) / kcMax;
        plan.Kc = (g.K + plan.KBlocks - 1) / plan.KBlocks;
        plan.PanelsM = (g.M + mr - 1) / mr;
        plan.MPad = plan.PanelsM * mr;
        plan.InPlaceA = TKernel.ReadsAInPlace && g.PackedB != null && g.PackedA == null && !g.TransposeA && InPlaceAOverride >= 0
                        && RowsSpreadOverL1Sets((long)g.Lda, mr);
        plan.FirstPackedPanel = plan.InPlaceA ? g.M / mr : 0;

        // An even split count keeps two threads balanced; it depends on the shape only (bitwise reproducibility).
        int splits = 1;
        if (g.K >= SplitMinK && (long)g.M * g.N <= SplitMaxC)
            splits = Math.Min(MaxSplits, g.K / (SplitMinK / 2)) & ~1;
        plan.BlocksPerSplit = (plan.KBlocks + splits - 1) / splits;
        plan.Splits = (plan.KBlocks + plan.BlocksPerSplit - 1) / plan.BlocksPerSplit;

        bool rowItems = OwnRowsOverride >= 0 && g.PackedB != null && g.PackedA == null && plan.Splits == 1 && plan.PanelsM >= 2 * threads;
        int callerThreads = threads;
        if (2.0 * g.M * g.N * g.K < (rowItems ? RowItemsSerialFlops : SerialFlops) || ParallelFor.InsideParallel) threads = 1;
        plan.Threads = threads;

        // N chunks as wide as this call's K block allows in L2 — except for a call cut as for one thread, which keeps the
        // chunks sized for KcMax: its items still go to idle workers (Run), and one wide chunk would leave nothing to share
        // (32 × 27 · 1024 on two threads: 0.61× as one chunk).
        int ncMax = threads > 1 ? blocking.NcFor(plan.Kc, nr) : blocking.NcMax;
        int panelsN = (g.N + nr - 1) / nr;
        int nChunks = (panelsN * nr + ncMax - 1) / ncMax;
        // B̃ already packed (a layer's weights) and enough rows to share: split the rows, not the columns, so each thread
        // packs just its own rows of A instead of all threads packing all of A together and waiting for each other at
        // every K block (at a batch of 128 through a Dense layer that sharing cost as much as half the call). Two items a
        // thread: a descheduled thread's share is picked up. Each item then reads all of B̃ — a weight, cache-resident.
        if (rowItems && threads > 1)
        {
            plan.OwnRows = true;
            int chunkPanelsN = (panelsN + nChunks - 1) / nChunks;
            plan.NChunks = (panelsN + chunkPanelsN - 1) / chunkPanelsN;
            plan.Nc = chunkPanelsN * nr;
            plan.MChunks = Math.Min(plan.PanelsM / 2, 2 * threads);
            // The largest item, for describing the plan only: RunRows spreads the panels evenly (RunItem and FinishSplit,
            // which use MChunkPanels, never run a row-items plan).
            plan.MChunkPanels = (plan.PanelsM + plan.MChunks - 1) / plan.MChunks;
            return plan;
        }
        // A few items per thread: round to a multiple of the threads so no thread idles through the last round. A call cut
        // as for one thread that still has several items hands them to idle workers (Run): rounded the same way (32 × 27 ·
        // 1024 on two threads: three chunks ran 0.87× two).
        int sharing = threads > 1 ? threads : plan.Splits * nChunks > 1 ? callerThreads : 1;
        if (sharing > 1 && plan.Splits * nChunks < 4 * sharing && plan.Splits % sharing != 0)
            nChunks = Math.Min(panelsN, RoundUp(nChunks, sharing));
        int chunkPanels = (panelsN + nChunks - 1) / nChunks;
        plan.NChunks = (panelsN + chunkPanels - 1) / chunkPanels;
        plan.Nc = chunkPanels * nr;

        int mChunks = 1;
        if (threads > 1 && plan.Splits * plan.NChunks < threads)
            mChunks = Math.Min(plan.PanelsM, (threads + plan.NChunks - 1) / plan.NChunks);
        plan.MChunkPanels = (plan.PanelsM + mChunks - 1) / mChunks;
        plan.MChunks = (plan.PanelsM + plan.MChunkPanels - 1) / plan.MChunkPanels;

        // A lane holds up to two chunks at once (the one it computes, the one it packs ahead): at least two per thread, or
        // one lane could end up with two while another has none.
        bool thin = plan.PanelsM <= PackAheadMaxPanelsM && (long)g.K * g.N * sizeof(float) >= PackAheadMinBytes
                    && plan.NChunks >= 2 * plan.Threads;
        plan.PackAhead = !g.TransposeB && g.PackedB == null && plan.Splits == 1 && plan.MChunks == 1
                         && (PackAheadOverride > 0 || (PackAheadOverride == 0 && thin));
        return plan;
    }

    public static void Run<TKernel>(in GemmArgs g, int threads, GemmBlocking blocking) where TKernel : struct, IMicroKernel
    {
        var plan = MakePlan<TKernel>(g, threads, blocking);

        // op(A) is packed once and shared by every item, lazily per K block by whichever items first need it (see
        // ItemBody.EnsurePacked): a single parallel loop per call, and the packing overlaps the first items' compute.
        // Row items (plan.OwnRows) each pack their own panels of it instead, without waiting for anyone.
        float* packedA = g.PackedA != null ? g.PackedA : GemmScratch.PackedA((nint)plan.MPad * g.K);
        float* partials = plan.Splits > 1 ? GemmScratch.Partials((nint)(plan.Splits - 1) * g.M * g.N) : null;
        int syncCount = 2 * plan.KBlocks + plan.NChunks * plan.MChunks + 1;
        int* sync = GemmScratch.Sync(syncCount);
        new Span<int>(sync, syncCount).Clear();

        var body = new ItemBody<TKernel> { G = g, Plan = plan, PackedA = packedA, Partials = partials, Sync = sync };
        if (plan.Items == 1) body.Execute(0, 0);
        // The caller's thread count caps the workers. A small call is cut as for one thread (no extra chunks for the others)
        // but its items (several where the blocking or split-K makes them) still go to idle workers, as they always did:
        // fmnist-cnn's training step measured up to ~5 % slower with them on the caller alone (Zen 3, noisy).
        else ParallelFor.For(plan.Items, threads, ref body);
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>Most rows of a tile read in place that may share one L1 set (L1d caches here are 8- to 12-way).</summary>
    internal const int MaxInPlaceRowsPerL1Set = 6;

    /// <summary>
    /// Whether the MR rows of a tile, lda floats apart, spread over enough L1 sets to be read in place: each row keeps its
    /// current line in L1, and rows a multiple of 4 KiB apart map to the same set (64 sets of 64-byte lines), where more
    /// lines than the set's ways evict each other at every line. 12 rows of 3072 floats (12 KiB apart, all on one set):
    /// in place ran 0.71× packing (AVX-512, Zen 4); 6 rows on one set (AVX2, or 12 rows 2 KiB apart) did not lose.
    /// </summary>
    internal static bool RowsSpreadOverL1Sets(long lda, int mr)
    {
        const int Sets = 64, FloatsPerLine = 16;
        Span<int> rowsInSet = stackalloc int[Sets];
        for (int r = 0; r < mr; r++)
            if (++rowsInSet[(int)(r * lda / FloatsPerLine % Sets)] > MaxInPlaceRowsPerL1Set) return false;
        return true;
    }

    /// <summary>Where the Ã panel (K block starting at k0, panel ip) lives: K blocks one after another, panels within.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float* PanelA<TKernel>(float* packedA, in GemmPlan plan, int k0, int kc, int ip) where TKernel : struct, IMicroKernel
        => packedA + (nint)k0 * plan.MPad + (nint)ip * TKernel.MR * kc;

    private struct ItemBody<TKernel> : IParallelBody where TKernel : struct, IMicroKernel
    {
        public GemmArgs G;
        public GemmPlan Plan;
        public float* PackedA, Partials;
        // Per K block kb: [2·kb] Ã panels claimed, [2·kb + 1] Ã panels packed; then, per C block (N chunk × M chunk),
        // the number of K splits finished; last, the next N chunk a pack-ahead lane may claim.
        public int* Sync;

        public void Execute(int index, int worker)
        {
            if (Plan.PackAhead) RunLane();
            else if (Plan.OwnRows) RunRows(index);
            else RunItem(index);
        }

        // One row item: its Ã panels, packed by this item during the first N chunk, against every N chunk's B̃ (given
        // packed, whole-K panels). The same K blocks, tiles and beta order as RunItem: the same bits as any other split.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void RunRows(int mChunk)
        {
            int nr = TKernel.NR;
            // Panels spread evenly (22 panels in 4 items: 5, 6, 5, 6, so two threads get 11 each, not 12 and 10).
            int ip0 = (int)((long)mChunk * Plan.PanelsM / Plan.MChunks), ip1 = (int)((long)(mChunk + 1) * Plan.PanelsM / Plan.MChunks);
            bool streamC = StreamsC();
            for (int nChunk = 0; nChunk < Plan.NChunks; nChunk++)
            {
                int j0 = nChunk * Plan.Nc, width = Math.Min(Plan.Nc, G.N - j0);
                for (int k0 = 0; k0 < G.K; k0 += Plan.Kc)
                {
                    int kc = Math.Min(Plan.Kc, G.K - k0);
                    if (nChunk == 0)
                        for (int ip = Math.Max(ip0, Plan.FirstPackedPanel); ip < ip1; ip++)
                            GemmPacking.PackA<TKernel>(G, ip * TKernel.MR, k0, kc, PanelA<TKernel>(PackedA, Plan, k0, kc, ip));
                    var block = new GemmBlock
                    {
                        K0 = k0, Kc = kc, J0 = j0, Width = width, Ip0 = ip0, Ip1 = ip1, C = G.C, Ldc = G.Ldc,
                        Beta = k0 == 0 ? G.Beta : 1f, Stream = streamC && k0 + kc >= G.K,
                        PackedB = G.PackedB + (nint)(j0 / nr) * G.K * nr + (nint)k0 * nr, PanelStride = (nint)G.K * nr,
                    };
                    ComputeBlock(block, default, 0);
                }
            }
            if (streamC && System.Runtime.Intrinsics.X86.Sse.IsSupported) System.Runtime.Intrinsics.X86.Sse.StoreFence();
        }

        // One item: the C block (M chunk × N chunk) over the K blocks of one split.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void RunItem(int index)
        {
            int nr = TKernel.NR;
            int mChunk = index % Plan.MChunks, rest = index / Plan.MChunks;
            int nChunk = rest % Plan.NChunks, split = rest / Plan.NChunks;
            int kStart = split * Plan.BlocksPerSplit * Plan.Kc;
            int kEnd = Math.Min(G.K, kStart + Plan.BlocksPerSplit * Plan.Kc);
            int j0 = nChunk * Plan.Nc, width = Math.Min(Plan.Nc, G.N - j0);
            int ip0 = mChunk * Plan.MChunkPanels, ip1 = Math.Min(ip0 + Plan.MChunkPanels, Plan.PanelsM);
            // Split 0 owns C (alpha, beta); split s > 0 writes alpha·(its partial product) into partial buffer s − 1.
            float* cBase = split == 0 ? G.C : Partials + (nint)(split - 1) * G.M * G.N;
            nint ldc = split == 0 ? G.Ldc : G.N;
            float firstBeta = split == 0 ? G.Beta : 0f;
            bool prepacked = G.PackedB != null;
            float* packedB = prepacked ? null : GemmScratch.PackedB((nint)Plan.Kc * Plan.Nc);
            bool streamC = StreamsC();

            for (int k0 = kStart; k0 < kEnd; k0 += Plan.Kc)
            {
                int kc = Math.Min(Plan.Kc, G.K - k0);
                // B̃ panels of this K block: packed here (kc·NR apart), or read in place from the caller's whole-K panels.
                nint panelStride = (nint)kc * nr;
                if (prepacked)
                {
                    packedB = G.PackedB + (nint)(j0 / nr) * G.K * nr + (nint)k0 * nr;
                    panelStride = (nint)G.K * nr;
                }
                else GemmPacking.PackB<TKernel>(G, k0, kc, j0, width, packedB);
                EnsurePacked(k0 / Plan.Kc, k0, kc);
                // The first K block applies the caller's beta; later ones accumulate onto it.
                var block = new GemmBlock
                {
                    K0 = k0, Kc = kc, J0 = j0, Width = width, Ip0 = ip0, Ip1 = ip1, C = cBase, Ldc = ldc,
                    Beta = k0 == kStart ? firstBeta : 1f, Stream = streamC && k0 + kc >= kEnd, PackedB = packedB,
                    PanelStride = panelStride,
                };
                ComputeBlock(block, default, 0);
            }
            // Non-temporal stores are weakly ordered: drain them before the item counts as done.
            if (streamC && System.Runtime.Intrinsics.X86.Sse.IsSupported) System.Runtime.Intrinsics.X86.Sse.StoreFence();
            if (Plan.Splits > 1) FinishSplit(nChunk, mChunk, j0, width);
        }

        /// <summary>
        /// A pack-ahead lane: claims N chunks until none is left and runs their K blocks in order, while each block's
        /// micro-kernels pack the next block (the next K block of the chunk, or the first of the chunk claimed next) into
        /// the other half of a double buffer. Only the lane's very first block is packed on its own.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void RunLane()
        {
            int nr = TKernel.NR;
            ref int nextChunk = ref Sync[2 * Plan.KBlocks + Plan.NChunks * Plan.MChunks];
            int chunk = Interlocked.Increment(ref nextChunk) - 1;
            if (chunk >= Plan.NChunks) return;
            nint blockFloats = (nint)Plan.Kc * Plan.Nc;
            float* packedB = GemmScratch.PackedB(2 * blockFloats);
            float* spareB = packedB + blockFloats;
            bool streamC = StreamsC();

            int k0 = 0, j0 = chunk * Plan.Nc, width = Math.Min(Plan.Nc, G.N - j0);
            GemmPacking.PackB<TKernel>(G, 0, Math.Min(Plan.Kc, G.K), j0, width, packedB);
            while (true)
            {
                int kc = Math.Min(Plan.Kc, G.K - k0);
                bool lastOfChunk = k0 + kc >= G.K;
                int kNext = lastOfChunk ? 0 : k0 + kc, jNext = j0;
                if (lastOfChunk)
                {
                    chunk = Interlocked.Increment(ref nextChunk) - 1;
                    jNext = chunk * Plan.Nc;
                }
                bool more = chunk < Plan.NChunks;
                var next = new GemmBlock
                {
                    K0 = kNext, Kc = more ? Math.Min(Plan.Kc, G.K - kNext) : 0, J0 = jNext,
                    Width = more ? Math.Min(Plan.Nc, G.N - jNext) : 0, PackedB = spareB,
                };
                next.PanelStride = (nint)next.Kc * nr;

                EnsurePacked(k0 / Plan.Kc, k0, kc);
                var block = new GemmBlock
                {
                    K0 = k0, Kc = kc, J0 = j0, Width = width, Ip0 = 0, Ip1 = Plan.PanelsM, C = G.C, Ldc = G.Ldc,
                    Beta = k0 == 0 ? G.Beta : 1f, Stream = streamC && lastOfChunk, PackedB = packedB,
                    PanelStride = (nint)kc * nr,
                };
                int copied = ComputeBlock(block, next, more ? next.Kc * (next.Width / nr) : 0);
                if (!more) break;
                FinishPackAhead(next, copied);

                float* swap = packedB;
                packedB = spareB;
                spareB = swap;
                k0 = next.K0;
                j0 = next.J0;
                width = next.Width;
            }
            if (streamC && System.Runtime.Intrinsics.X86.Sse.IsSupported) System.Runtime.Intrinsics.X86.Sse.StoreFence();
        }

        private readonly bool StreamsC() => Plan.Splits == 1 && (long)G.M * G.N * sizeof(float) >= StreamMinBytes
                                            && ((nint)G.C & 63) == 0 && (G.Ldc & 15) == 0;

        /// <summary>
        /// One K block of one C block: every Ã panel against every B̃ panel. The full tiles also pack the first
        /// <paramref name="copies"/> pieces of <paramref name="next"/> (spread evenly over them); returns how many they took.
        /// </summary>
        private readonly int ComputeBlock(in GemmBlock block, in GemmBlock next, int copies)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            int panelsN = (block.Width + nr - 1) / nr;
            int fullTiles = Math.Max(0, Math.Min(block.Ip1, G.M / mr) - block.Ip0) * (block.Width / nr);
            // At most one piece per k step: a tile copies no more than that, and what the tiles cannot take is copied after.
            int perTile = fullTiles == 0 ? 0 : Math.Min(block.Kc, (copies + fullTiles - 1) / fullTiles);
            int every = Math.Max(1, block.Kc / Math.Max(1, perTile));
            int piecesPerRow = next.Width / nr, copied = 0;
            float alpha = G.Alpha;
            for (int ip = block.Ip0; ip < block.Ip1; ip++)
            {
                int i0 = ip * mr, rows = Math.Min(mr, G.M - i0);
                float* a = PanelA<TKernel>(PackedA, Plan, block.K0, block.Kc, ip);
                float* cRow = block.C + (nint)i0 * block.Ldc + block.J0;
                for (int jp = 0; jp < panelsN; jp++)
                {
                    int cols = Math.Min(nr, block.Width - jp * nr);
                    float* b = block.PackedB + jp * block.PanelStride;
                    float* c = cRow + jp * nr;
                    if (Plan.InPlaceA && rows == mr)
                    {
                        float* aRows = G.A + (nint)i0 * G.Lda + block.K0;
                        if (cols == nr) TKernel.RunInPlaceA(block.Kc, aRows, G.Lda, b, c, block.Ldc, alpha, block.Beta, block.Stream);
                        else EdgeInPlaceA(block.Kc, cols, aRows, b, c, block.Ldc, block.Beta);
                    }
                    else if (rows == mr && cols == nr && copied < copies)
                    {
                        var copy = Pieces(next, piecesPerRow, copied, Math.Min(perTile, copies - copied));
                        copy.Every = every;
                        TKernel.RunCopying(block.Kc, a, b, c, block.Ldc, alpha, block.Beta, block.Stream, copy);
                        copied += copy.Count;
                    }
                    else if (rows == mr && cols == nr) TKernel.Run(block.Kc, a, b, c, block.Ldc, alpha, block.Beta, block.Stream);
                    else TKernel.Edge(block.Kc, rows, cols, a, b, c, block.Ldc, alpha, block.Beta, block.Stream);
                }
            }
            return copied;
        }

        /// <summary>A tile of whole rows read in place and <paramref name="cols"/> &lt; NR columns: into scratch, clipped into c.</summary>
        private readonly void EdgeInPlaceA(nint kc, int cols, float* aRows, float* b, float* c, nint ldc, float beta)
        {
            float* tile = stackalloc float[TKernel.MR * TKernel.NR];
            TKernel.RunInPlaceA(kc, aRows, G.Lda, b, tile, TKernel.NR, 1f, 0f, false);
            GemmEdges.MergeTile(tile, TKernel.NR, c, ldc, TKernel.MR, cols, G.Alpha, beta);
        }

        /// <summary>The pieces [first, first + count) of the next block's whole panels, in row-by-row order.</summary>
        private readonly PackAhead Pieces(in GemmBlock next, int piecesPerRow, int first, int count)
        {
            int nr = TKernel.NR;
            int row = first / piecesPerRow, piece = first - row * piecesPerRow;
            return new PackAhead
            {
                Src = G.B + (nint)(next.K0 + row) * G.Ldb + next.J0 + piece * nr,
                Dst = next.PackedB + (nint)row * nr + piece * next.PanelStride,
                SrcStride = G.Ldb, PanelStride = next.PanelStride, PiecesPerRow = piecesPerRow, Piece = piece, Count = count,
            };
        }

        /// <summary>Packs what the tiles of the previous block left of <paramref name="next"/>, and its partial last panel.</summary>
        private readonly void FinishPackAhead(in GemmBlock next, int copied)
        {
            int nr = TKernel.NR, piecesPerRow = next.Width / nr;
            int pieces = next.Kc * piecesPerRow;
            if (copied < pieces) Pieces(next, piecesPerRow, copied, pieces - copied).CopyAll(nr);
            if (next.Width > piecesPerRow * nr)
                GemmPacking.PackBTail<TKernel>(G, next.K0, next.Kc, next.J0, next.Width, next.PackedB);
        }

        /// <summary>
        /// Makes sure every Ã panel of K block kb is packed: claims and packs unclaimed panels, then waits for panels other
        /// items are still packing. It never waits on work nobody has started, so it cannot deadlock, even when the loop
        /// runs inline on one thread.
        /// </summary>
        private readonly void EnsurePacked(int kb, int k0, int kc)
        {
            if (G.PackedA != null) return; // packed by the caller, once for many calls
            ref int claimed = ref Sync[2 * kb];
            ref int packed = ref Sync[2 * kb + 1];
            int first = Plan.FirstPackedPanel, panels = Plan.PanelsM - first;
            while (Volatile.Read(ref claimed) < panels)
            {
                int ip = first + Interlocked.Increment(ref claimed) - 1;
                if (ip >= Plan.PanelsM) break;
                GemmPacking.PackA<TKernel>(G, ip * TKernel.MR, k0, kc, PanelA<TKernel>(PackedA, Plan, k0, kc, ip));
                Interlocked.Increment(ref packed);
            }
            if (Volatile.Read(ref packed) < panels)
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref packed) < panels) spin.SpinOnce(sleep1Threshold: -1);
            }
        }

        /// <summary>
        /// Split-K epilogue: the last split to finish a C block adds the partial products into C in split order, so the sum
        /// is the same whichever thread does it.
        /// </summary>
        private readonly void FinishSplit(int nChunk, int mChunk, int j0, int width)
        {
            ref int finished = ref Sync[2 * Plan.KBlocks + nChunk * Plan.MChunks + mChunk];
            if (Interlocked.Increment(ref finished) != Plan.Splits) return;
            int r0 = mChunk * Plan.MChunkPanels * TKernel.MR, r1 = Math.Min(G.M, r0 + Plan.MChunkPanels * TKernel.MR);
            for (int r = r0; r < r1; r++)
            {
                var row = new Span<float>(G.C + r * G.Ldc + j0, width);
                for (int s = 1; s < Plan.Splits; s++)
                    TensorPrimitives.Add(row, new ReadOnlySpan<float>(Partials + ((nint)(s - 1) * G.M + r) * G.N + j0, width), row);
            }
        }
    }
}

/// <summary>One K block of one C block: where it reads and writes (see the driver's ComputeBlock).</summary>
internal unsafe struct GemmBlock
{
    public int K0, Kc, J0, Width;
    /// <summary>Ã panels [Ip0, Ip1).</summary>
    public int Ip0, Ip1;
    public float* C, PackedB;
    public nint Ldc, PanelStride;
    public float Beta;
    public bool Stream;
}
