using System.Runtime.ExceptionServices;

namespace NativeConv.Tensors;

/// <summary>A unit of parallel work: item <paramref name="index"/> of a loop, run on worker <paramref name="worker"/> (0..ThreadCount−1).</summary>
public interface IParallelBody
{
    void Execute(int index, int worker);
}

/// <summary>
/// The one parallel-for of the engine. Kernels describe their work as a struct implementing <see cref="IParallelBody"/>
/// and call <see cref="For{TBody}"/>; persistent worker threads claim items with an atomic counter.
///
/// - No allocation per call: the body is copied into a static slot of its own type, and the delegate that runs it is
///   created once per body type.
/// - Nested calls, and calls while another thread is using the workers, run inline on the calling thread (never deadlock).
/// - The caller never waits for a worker that has not started: once the caller finds no item left it closes the job, and
///   a worker that wakes after that (descheduled, or asleep in its semaphore) skips it. The caller waits only for workers
///   still running an item. (Waking a sleeping worker takes ~20 µs here, longer than many of the engine's loops, so an
///   idle worker spins for 100 µs before it sleeps: back-to-back loops find it awake.)
/// - Which worker runs which item is dynamic. A reduction that must be bitwise reproducible therefore accumulates per ITEM
///   (fixed chunks) and sums the chunks in index order afterwards — never per worker.
/// - An exception in any item is rethrown on the caller after every worker has stopped.
/// </summary>
public static class ParallelFor
{
    private static readonly object s_gate = new();
    private static readonly List<Worker> s_workers = new();
    private static int s_threadCount = Math.Max(1, Environment.ProcessorCount);

    [ThreadStatic] private static bool t_insideParallel;

    // The job in flight (valid only while s_gate is held by the dispatcher).
    private static Action<int, int>? s_job;
    private static int s_nextItem;
    private static int s_itemCount;
    private static int s_threads;
    // Workers inside the job in flight, plus Closed once the caller has found no item left: no worker may join after that.
    private const int Closed = 1 << 30;
    private static int s_state = Closed;
    private static ExceptionDispatchInfo? s_failure;
    // Counts jobs: a worker that finished one spins on it for a while before sleeping (see Worker.WaitForJob).
    private static int s_generation;

    /// <summary>
    /// How long an idle worker spins for the next job before it sleeps. A step's parallel loops follow each other within
    /// microseconds (an inference call at batch 1 runs about three per layer), and waking a sleeping thread costs ~20 µs,
    /// more than many of those loops; a worker idle longer than this costs nothing more.
    /// </summary>
    private static readonly long s_spinTicks = System.Diagnostics.Stopwatch.Frequency / 10_000; // 100 µs

    /// <summary>Threads used by the CPU kernels, including the caller. Default: the number of processors.</summary>
    public static int ThreadCount
    {
        get => Volatile.Read(ref s_threadCount);
        set
        {
            if (value < 1 || value > 256)
                throw new ArgumentOutOfRangeException(nameof(value), value, "The thread count must be between 1 and 256.");
            Volatile.Write(ref s_threadCount, value);
        }
    }

    /// <summary>True on a thread that is running items of a parallel loop: a nested <see cref="For{TBody}"/> runs inline.</summary>
    internal static bool InsideParallel => t_insideParallel;

    /// <summary>Runs body.Execute(i, worker) for every i in [0, count).</summary>
    public static void For<TBody>(int count, ref TBody body) where TBody : struct, IParallelBody => For(count, int.MaxValue, ref body);

    /// <summary>
    /// As <see cref="For{TBody}(int, ref TBody)"/> on at most <paramref name="maxThreads"/> threads, the caller included
    /// (a kernel planned for fewer threads than <see cref="ThreadCount"/>; 1: every item on the caller, in order).
    /// </summary>
    public static void For<TBody>(int count, int maxThreads, ref TBody body) where TBody : struct, IParallelBody
    {
        if (count <= 0) return;
        int threads = Math.Min(Math.Min(ThreadCount, count), Math.Max(1, maxThreads));
        if (threads == 1 || t_insideParallel || !Monitor.TryEnter(s_gate))
        {
            for (int i = 0; i < count; i++) body.Execute(i, 0);
            return;
        }

        try
        {
            EnsureWorkers(threads - 1);
            BodySlot<TBody>.Body = body;
            s_job = BodySlot<TBody>.Run;
            s_nextItem = 0;
            s_itemCount = count;
            s_threads = threads;
            s_failure = null;
            Volatile.Write(ref s_state, 0); // open: the fields above are published before any worker can join
            Interlocked.Increment(ref s_generation); // spinning workers see the job at once
            for (int w = 0; w < threads - 1; w++) s_workers[w].Wake(); // sleeping ones are woken

            t_insideParallel = true;
            try { RunItems(worker: 0); }
            finally { t_insideParallel = false; }

            // No item left: close the job and wait only for the workers that joined it.
            Interlocked.Or(ref s_state, Closed);
            var spin = new SpinWait();
            while (Volatile.Read(ref s_state) != Closed) spin.SpinOnce(sleep1Threshold: -1);

            // The body is a struct copy: write back any state it accumulated (bodies normally write through arrays/pointers).
            body = BodySlot<TBody>.Body;
            BodySlot<TBody>.Body = default;
            s_job = null;
            s_failure?.Throw();
        }
        finally
        {
            Monitor.Exit(s_gate);
        }
    }

    private static void RunItems(int worker)
    {
        var job = s_job!;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref s_nextItem) - 1) < s_itemCount)
                job(i, worker);
        }
        catch (Exception ex)
        {
            // Stop handing out items and keep the first failure.
            Interlocked.Exchange(ref s_nextItem, int.MaxValue / 2);
            Interlocked.CompareExchange(ref s_failure, ExceptionDispatchInfo.Capture(ex), null);
        }
    }

    private static void EnsureWorkers(int needed)
    {
        while (s_workers.Count < needed) s_workers.Add(new Worker(s_workers.Count + 1));
    }

    private static class BodySlot<TBody> where TBody : struct, IParallelBody
    {
        public static TBody Body;
        public static readonly Action<int, int> Run = static (index, worker) => Body.Execute(index, worker);
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);
        private readonly int _id;
        private int _sleeping; // 1 while blocked (or about to block) in _wake: a caller must release it

        public Worker(int id)
        {
            _id = id;
            var thread = new Thread(Loop) { IsBackground = true, Name = $"NativeConv worker {id}" };
            thread.Start();
        }

        /// <summary>Wakes the worker if it sleeps (a spinning worker sees the new generation by itself).</summary>
        public void Wake()
        {
            if (Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
        }

        private void Loop()
        {
            t_insideParallel = true;
            int seen = Volatile.Read(ref s_generation);
            while (true)
            {
                WaitForJob(ref seen);
                // Join the job in flight unless it is closed, or is not meant for this many workers (worker ids stay below
                // the job's thread count).
                int state = Volatile.Read(ref s_state);
                while ((state & Closed) == 0)
                {
                    int observed = Interlocked.CompareExchange(ref s_state, state + 1, state);
                    if (observed == state) break;
                    state = observed;
                }
                if ((state & Closed) != 0) continue;
                if (_id < Volatile.Read(ref s_threads)) RunItems(_id);
                Interlocked.Decrement(ref s_state);
            }
        }

        /// <summary>
        /// Returns once a job newer than <paramref name="seen"/> has been published: spins for <see cref="s_spinTicks"/>, then
        /// sleeps until a caller wakes it. The sleeping flag is set with a full fence before the last look at the generation,
        /// and a caller bumps the generation (full fence) before taking the flag, so a job is never missed: either the
        /// worker sees it, or the caller sees the flag and releases the semaphore.
        /// </summary>
        private void WaitForJob(ref int seen)
        {
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + s_spinTicks;
            var spin = new SpinWait();
            while (Volatile.Read(ref s_generation) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                Interlocked.Exchange(ref _sleeping, 1);
                if (Volatile.Read(ref s_generation) == seen) _wake.Wait();
                else if (Interlocked.Exchange(ref _sleeping, 0) == 0) _wake.Wait(); // a caller took the flag: take its release
                break;
            }
            seen = Volatile.Read(ref s_generation);
        }
    }
}
