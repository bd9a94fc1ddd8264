using NativeConv.Tensors;

namespace NativeConv.Tests.Support;

/// <summary>Runs a kernel call with the parallel loops on a given number of threads (tests of thread-count invariance).</summary>
public static class Threads
{
    /// <summary><paramref name="run"/> with <see cref="ParallelFor.ThreadCount"/> = <paramref name="threads"/>, restored after.</summary>
    public static T On<T>(int threads, Func<T> run)
    {
        int saved = ParallelFor.ThreadCount;
        try
        {
            ParallelFor.ThreadCount = threads;
            return run();
        }
        finally { ParallelFor.ThreadCount = saved; }
    }
}
