namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>A kernel over an index range [start, end): elements, rows or planes, whatever the caller counts.</summary>
internal interface IRangeKernel
{
    void Run(int start, int end);
}

/// <summary>
/// The shared driver of the elementwise, bias, pooling and optimiser kernels: run a range kernel inline when the work is
/// small, or cut it into fixed chunks of <c>grain</c> indices handed to <see cref="ParallelFor"/> when it is big.
/// Chunks depend only on the sizes, never on the thread count, so a kernel that reduces within a chunk stays bitwise
/// reproducible. Kernels hold raw pointers (a struct body cannot hold a span): their callers pin with <c>fixed</c> for the call.
/// </summary>
internal static class RangeParallel
{
    /// <summary>Below this many elements of work a kernel runs on the calling thread: waking workers costs more.</summary>
    public const long MinParallelWork = 1 << 16;

    /// <summary>Elements per chunk for flat elementwise kernels: big enough to amortise a claim, small enough to balance.</summary>
    public const int ElementGrain = 1 << 14;

    /// <summary>Runs kernel.Run over [0, count) in chunks of <paramref name="grain"/> indices when <paramref name="work"/> (elements touched) is large.</summary>
    public static void For<TKernel>(int count, int grain, long work, ref TKernel kernel) where TKernel : struct, IRangeKernel
    {
        if (count <= 0) return;
        grain = Math.Max(1, grain);
        if (work < MinParallelWork || count <= grain || ParallelFor.ThreadCount == 1)
        {
            kernel.Run(0, count);
            return;
        }
        var body = new ChunkBody<TKernel> { Kernel = kernel, Count = count, Grain = grain };
        ParallelFor.For((count + grain - 1) / grain, ref body);
    }

    /// <summary>A flat elementwise kernel over <paramref name="length"/> elements.</summary>
    public static void ForElements<TKernel>(int length, ref TKernel kernel) where TKernel : struct, IRangeKernel =>
        For(length, ElementGrain, length, ref kernel);

    /// <summary>Grain (in items) so that one chunk touches about <see cref="ElementGrain"/> elements.</summary>
    public static int GrainFor(int elementsPerItem) => Math.Max(1, ElementGrain / Math.Max(1, elementsPerItem));

    private struct ChunkBody<TKernel> : IParallelBody where TKernel : struct, IRangeKernel
    {
        public TKernel Kernel;
        public int Count, Grain;

        public void Execute(int index, int worker)
        {
            int start = index * Grain;
            Kernel.Run(start, Math.Min(start + Grain, Count));
        }
    }
}
