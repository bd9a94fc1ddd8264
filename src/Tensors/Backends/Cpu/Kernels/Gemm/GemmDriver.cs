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
}

/// <summary>
/// How one call is cut up (Goto/BLIS blocking, adapted to a whole-Ã pre-pack):
///   K in blocks of ≤ KcMax: an Ã micro-panel (MR × Kc) stays in L1 while it meets every B̃ panel of a chunk;
///   N in chunks of ≤ NcMax columns: a chunk's B̃ block (Kc × Nc) stays in L2 while every Ã panel streams past it;
///   the work items of the parallel loop are (N chunk × M chunk); N is split first, because op(A) is packed once and
///   shared while each item packs its own B̃, so splitting M would pack the same B̃ twice.
/// </summary>
internal struct GemmPlan
{
    /// <summary>K block length (≤ KcMax, blocks balanced) and the number of K blocks.</summary>
    public int Kc, KBlocks;
    /// <summary>Ã panels (⌈M/MR⌉) and the padded row count they cover.</summary>
    public int PanelsM, MPad;
    /// <summary>Columns per N chunk (a multiple of NR) and the number of N chunks.</summary>
    public int Nc, NChunks;
    /// <summary>Ã panels per M chunk and the number of M chunks.</summary>
    public int MChunkPanels, MChunks;

    public readonly int Items => NChunks * MChunks;
}

/// <summary>The blocked, packed, multi-threaded GEMM driver, specialised per micro-kernel.</summary>
internal static unsafe class GemmDriver
{
    // K block: Ã micro-panel 12 × 256 × 4 B = 12 KiB in L1 (48 KiB on both Zen 5 and Cascade Lake) next to the B̃ stream.
    internal const int KcMax = 256;

    // N chunk: B̃ block 256 × 512 × 4 B = 512 KiB, half of a 1 MiB L2 (Zen 5 and Cascade Lake alike).
    internal const int NcMax = 512;

    // Below this many flops (2·M·N·K) a call runs on the calling thread: waking the workers costs more than it saves.
    internal const double SerialFlops = 4e6;

    internal static int Variant;

    public static GemmPlan MakePlan<TKernel>(in GemmArgs g, int threads) where TKernel : struct, IMicroKernel
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        var plan = new GemmPlan();
        plan.KBlocks = (g.K + KcMax - 1) / KcMax;
        plan.Kc = (g.K + plan.KBlocks - 1) / plan.KBlocks;
        plan.PanelsM = (g.M + mr - 1) / mr;
        plan.MPad = plan.PanelsM * mr;

        if (2.0 * g.M * g.N * g.K < SerialFlops) threads = 1;

        int panelsN = (g.N + nr - 1) / nr;
        int nChunks = (panelsN * nr + NcMax - 1) / NcMax;
        // A few items per thread: round to a multiple of the threads so no thread idles through the last round.
        if (threads > 1 && nChunks < 4 * threads) nChunks = Math.Min(panelsN, RoundUp(nChunks, threads));
        int chunkPanels = (panelsN + nChunks - 1) / nChunks;
        plan.NChunks = (panelsN + chunkPanels - 1) / chunkPanels;
        plan.Nc = chunkPanels * nr;

        int mChunks = 1;
        if (threads > 1 && plan.NChunks < threads)
            mChunks = Math.Min(plan.PanelsM, (threads + plan.NChunks - 1) / plan.NChunks);
        plan.MChunkPanels = (plan.PanelsM + mChunks - 1) / mChunks;
        plan.MChunks = (plan.PanelsM + plan.MChunkPanels - 1) / plan.MChunkPanels;
        return plan;
    }

    public static void Run<TKernel>(in GemmArgs g, int threads) where TKernel : struct, IMicroKernel
    {
        var plan = MakePlan<TKernel>(g, threads);

        // Pack all of op(A) once; every item reads it.
        float* packedA = GemmScratch.PackedA((nint)plan.MPad * g.K);
        var pack = new PackABody<TKernel> { G = g, Plan = plan, PackedA = packedA };
        int packItems = plan.KBlocks * plan.PanelsM;
        if (plan.Items > 1 && (long)plan.MPad * g.K >= 64 * 1024) ParallelFor.For(packItems, ref pack);
        else for (int i = 0; i < packItems; i++) pack.Execute(i, 0);

        var body = new ItemBody<TKernel> { G = g, Plan = plan, PackedA = packedA };
        if (plan.Items == 1) body.Execute(0, 0);
        else ParallelFor.For(plan.Items, ref body);
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>Where the Ã panel (K block kb, panel ip) lives in the packed A: K blocks one after another, panels within.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* PanelA<TKernel>(float* packedA, in GemmPlan plan, int k0, int kc, int ip) where TKernel : struct, IMicroKernel
        => packedA + (nint)k0 * plan.MPad + (nint)ip * TKernel.MR * kc;

    private struct PackABody<TKernel> : IParallelBody where TKernel : struct, IMicroKernel
    {
        public GemmArgs G;
        public GemmPlan Plan;
        public float* PackedA;

        public void Execute(int index, int worker)
        {
            int kb = index / Plan.PanelsM, ip = index % Plan.PanelsM;
            int k0 = kb * Plan.Kc, kc = Math.Min(Plan.Kc, G.K - k0);
            GemmPacking.PackA<TKernel>(G, ip * TKernel.MR, k0, kc, PanelA<TKernel>(PackedA, Plan, k0, kc, ip));
        }
    }

    private struct ItemBody<TKernel> : IParallelBody where TKernel : struct, IMicroKernel
    {
        public GemmArgs G;
        public GemmPlan Plan;
        public float* PackedA;

        // One item: the C block (M chunk × N chunk), all of K.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int index, int worker)
        {
            int mr = TKernel.MR, nr = TKernel.NR;
            int nChunk = index / Plan.MChunks, mChunk = index % Plan.MChunks;
            int j0 = nChunk * Plan.Nc, width = Math.Min(Plan.Nc, G.N - j0);
            int ip0 = mChunk * Plan.MChunkPanels, ip1 = Math.Min(ip0 + Plan.MChunkPanels, Plan.PanelsM);
            int panelsN = (width + nr - 1) / nr;
            float* packedB = GemmScratch.PackedB((nint)Plan.Kc * Plan.Nc);
            float alpha = G.Alpha;

            for (int k0 = 0; k0 < G.K; k0 += Plan.Kc)
            {
                int kc = Math.Min(Plan.Kc, G.K - k0);
                GemmPacking.PackB<TKernel>(G, k0, kc, j0, width, packedB);
                // The first K block applies the caller's beta; later ones accumulate onto it.
                float beta = k0 == 0 ? G.Beta : 1f;
                for (int ip = ip0; ip < ip1; ip++)
                {
                    int i0 = ip * mr, rows = Math.Min(mr, G.M - i0);
                    float* a = PanelA<TKernel>(PackedA, Plan, k0, kc, ip);
                    float* cRow = G.C + (nint)i0 * G.Ldc + j0;
                    for (int jp = 0; jp < panelsN; jp++)
                    {
                        int cols = Math.Min(nr, width - jp * nr);
                        float* b = packedB + (nint)jp * nr * kc;
                        if (rows == mr && cols == nr)
                        {
                            TKernel.Run(kc, a, b, cRow + jp * nr, G.Ldc, alpha, beta);
                        }
                        else
                        {
                            TKernel.Edge(kc, rows, cols, a, b, cRow + jp * nr, G.Ldc, alpha, beta);
                        }
                    }
                }
            }
        }
    }
}
