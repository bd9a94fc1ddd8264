using NativeConv.Tensors;
using NativeConv.Tests.Layers;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The engine's one parallel loop: every index exactly once for any count and thread count, worker ids within the job's
/// thread count, nested and concurrent calls inline, failures rethrown on the caller, and workers that wake late (asleep in
/// their semaphore, or left over from an earlier job with more threads) never running a job they were not part of.
/// </summary>
[Collection(EngineSettingsCollection.Name)]
public class ParallelForTests
{
    private struct CountBody : IParallelBody
    {
        public int[] Hits;
        public int[] MaxWorker;
        public int SpinIterations;

        public void Execute(int index, int worker)
        {
            long x = index;
            for (int i = 0; i < SpinIterations; i++) x = (x * 31 + i) ^ (x >> 7);
            Interlocked.Increment(ref Hits[index]);
            int seen;
            while (worker > (seen = Volatile.Read(ref MaxWorker[0])) && Interlocked.CompareExchange(ref MaxWorker[0], worker, seen) != seen) { }
            if (x == 42) Hits[index] += 1000; // keeps the spin loop; never true for these inputs in practice
        }
    }

    private static void RunAndCheck(int count, int threads, int spin, string what)
    {
        var body = new CountBody { Hits = new int[Math.Max(count, 1)], MaxWorker = new int[1], SpinIterations = spin };
        ParallelFor.ThreadCount = threads;
        ParallelFor.For(count, ref body);
        for (int i = 0; i < count; i++)
            if (body.Hits[i] != 1)
                Assert.Fail($"{what}: count {count}, {threads} threads: index {i} ran {body.Hits[i]} times.");
        if (body.MaxWorker[0] >= threads)
            Assert.Fail($"{what}: count {count}, {threads} threads: worker id {body.MaxWorker[0]} is not below the thread count.");
    }

    [Fact]
    public void Every_index_runs_once_for_any_count_and_thread_count()
    {
        int saved = ParallelFor.ThreadCount;
        try
        {
            foreach (int threads in new[] { 1, 2, 3, 8 })
                foreach (int count in new[] { 0, 1, 2, 3, 7, 100, 1031 })
                    RunAndCheck(count, threads, spin: 50, "back to back");
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    [Fact]
    public void A_thread_cap_below_the_thread_count_limits_the_workers()
    {
        // A kernel planned for fewer threads than the engine's (a GEMM called with threads: 1) runs on at most that many:
        // every item once, worker ids below the cap, and a cap of 1 keeps every item on the caller.
        int saved = ParallelFor.ThreadCount;
        try
        {
            ParallelFor.ThreadCount = 4;
            foreach (int cap in new[] { 1, 2, 3 })
                for (int round = 0; round < 20; round++)
                {
                    var body = new CountBody { Hits = new int[64], MaxWorker = new int[1], SpinIterations = 20_000 };
                    ParallelFor.For(64, cap, ref body);
                    Assert.All(body.Hits, hits => Assert.Equal(1, hits));
                    Assert.True(body.MaxWorker[0] < cap, $"cap {cap}: worker {body.MaxWorker[0]} ran an item");
                }
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    [Fact]
    public void Workers_that_wake_late_neither_hold_up_nor_join_the_wrong_job()
    {
        // Gaps long enough for the workers to fall asleep, tiny jobs the caller finishes alone before they wake, and thread
        // counts that shrink and grow, so left-over wake-ups from a job with more threads meet a job with fewer.
        int saved = ParallelFor.ThreadCount;
        try
        {
            var rng = new Random(7);
            for (int round = 0; round < 300; round++)
            {
                int threads = round % 3 == 0 ? 8 : 2 + round % 2;
                int count = rng.Next(0, 6) == 0 ? 200 : rng.Next(1, 5);
                RunAndCheck(count, threads, spin: rng.Next(0, 3) == 0 ? 20_000 : 10, $"round {round}");
                if (round % 4 == 0) Thread.Sleep(1);
            }
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    private struct NestedBody : IParallelBody
    {
        public int[] InnerHits;
        public int[] InnerOnOtherThread;

        public void Execute(int index, int worker)
        {
            int thread = Environment.CurrentManagedThreadId;
            var inner = new ThreadCheckBody { Hits = InnerHits, Offset = index * 10, Thread = thread, Mismatches = InnerOnOtherThread };
            ParallelFor.For(10, ref inner);
        }
    }

    private struct ThreadCheckBody : IParallelBody
    {
        public int[] Hits, Mismatches;
        public int Offset, Thread;

        public void Execute(int index, int worker)
        {
            Interlocked.Increment(ref Hits[Offset + index]);
            if (Environment.CurrentManagedThreadId != Thread) Interlocked.Increment(ref Mismatches[0]);
        }
    }

    [Fact]
    public void A_nested_loop_runs_inline_on_the_thread_that_calls_it()
    {
        int saved = ParallelFor.ThreadCount;
        try
        {
            ParallelFor.ThreadCount = 2;
            var body = new NestedBody { InnerHits = new int[40], InnerOnOtherThread = new int[1] };
            ParallelFor.For(4, ref body);
            Assert.All(body.InnerHits, hits => Assert.Equal(1, hits));
            Assert.Equal(0, body.InnerOnOtherThread[0]);
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    [Fact]
    public void Concurrent_callers_both_complete()
    {
        int saved = ParallelFor.ThreadCount;
        try
        {
            ParallelFor.ThreadCount = 2;
            var failures = new List<string>();
            var callers = Enumerable.Range(0, 3).Select(c => new Thread(() =>
            {
                try
                {
                    for (int i = 0; i < 200; i++)
                    {
                        var body = new CountBody { Hits = new int[64], MaxWorker = new int[1], SpinIterations = 200 };
                        ParallelFor.For(64, ref body);
                        if (body.Hits.Any(h => h != 1)) lock (failures) failures.Add($"caller {c}, call {i}: an index did not run exactly once");
                    }
                }
                catch (Exception ex) { lock (failures) failures.Add($"caller {c}: {ex}"); }
            })).ToList();
            callers.ForEach(t => t.Start());
            callers.ForEach(t => t.Join());
            Assert.Empty(failures);
        }
        finally { ParallelFor.ThreadCount = saved; }
    }

    private struct ThrowingBody : IParallelBody
    {
        public int[] Ran;

        public void Execute(int index, int worker)
        {
            if (index == 5) throw new InvalidOperationException("item 5 failed");
            Interlocked.Increment(ref Ran[0]);
        }
    }

    [Fact]
    public void A_failing_item_is_rethrown_on_the_caller_and_the_loop_stays_usable()
    {
        int saved = ParallelFor.ThreadCount;
        try
        {
            foreach (int threads in new[] { 1, 2, 4 })
            {
                ParallelFor.ThreadCount = threads;
                var body = new ThrowingBody { Ran = new int[1] };
                var ex = Assert.Throws<InvalidOperationException>(() => ParallelFor.For(100, ref body));
                Assert.Equal("item 5 failed", ex.Message);
                RunAndCheck(100, threads, spin: 10, $"after a failure, {threads} threads");
            }
        }
        finally { ParallelFor.ThreadCount = saved; }
    }
}
