using System.Diagnostics;
using System.Threading.Channels;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// Micro-batching in front of an <see cref="IImageClassifier"/>: requests put their decoded sample in a bounded channel and
/// one worker takes up to <see cref="ServeOptions.MaxBatch"/> of them into a single forward pass. After the first sample of
/// a batch arrives the worker waits at most <see cref="ServeOptions.MaxWait"/> for more, and only while the server holds
/// requests that are not in the batch yet (announced with <see cref="Enter"/> when a request starts, before its body is
/// read and decoded): a lone client is answered after one forward, never after a pointless wait, while under load the
/// requests that arrive during a forward form the next batch, so throughput grows with the load and latency stays near
/// one forward (plus the wait). A request cancelled (timed out, client gone) before its batch runs is dropped from it.
/// Dispose drains: every request already queued is still answered, then the worker ends.
/// </summary>
public sealed class MicroBatcher : IAsyncDisposable
{
    private readonly IImageClassifier _classifier;
    private readonly int _maxBatch;
    private readonly TimeSpan _maxWait;
    private readonly int _inputLength;
    private readonly int _classCount;
    private readonly Channel<Pending> _queue;
    private readonly Task _worker;

    // The worker's own buffers: a batch's samples side by side (NCHW) and its probabilities, reused for every forward.
    private readonly Pending[] _batch;
    private readonly float[] _samples;
    private readonly float[] _probabilities;

    private long _forwards;
    private long _classified;
    private long _dropped;
    private int _inServer;

    public MicroBatcher(IImageClassifier classifier, int maxBatch, TimeSpan maxWait, int queueCapacity)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, TimeSpan.Zero);
        _classifier = classifier;
        _maxBatch = maxBatch;
        _maxWait = maxWait;
        _inputLength = classifier.Info.InputLength;
        _classCount = classifier.Info.ClassCount;
        _batch = new Pending[maxBatch];
        _samples = new float[maxBatch * _inputLength];
        _probabilities = new float[maxBatch * _classCount];
        // Several readers only in name: the worker may leave a WaitToReadAsync pending when its wait for a fuller batch
        // times out and start another later; the multi-reader channel allows that, the single-reader one does not.
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = false,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _worker = Task.Run(RunAsync);
    }

    /// <summary>Forward passes run so far.</summary>
    public long Forwards => Interlocked.Read(ref _forwards);

    /// <summary>Samples classified so far (summed over all forwards).</summary>
    public long Classified => Interlocked.Read(ref _classified);

    /// <summary>Requests cancelled while queued, dropped from their batch before it ran.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Requests the server holds now (between <see cref="Enter"/> and the disposal of its ticket).</summary>
    public int InServer => Volatile.Read(ref _inServer);

    /// <summary>
    /// Announces a request as soon as it arrives (dispose the ticket when it is answered): while announced requests are
    /// not in the batch yet, the worker waits up to MaxWait for them.
    /// </summary>
    public RequestTicket Enter()
    {
        Interlocked.Increment(ref _inServer);
        return new RequestTicket(this);
    }

    /// <summary>Marks the end of one request announced with <see cref="Enter"/>.</summary>
    public readonly struct RequestTicket(MicroBatcher owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._inServer);
    }

    /// <summary>
    /// Queues one decoded sample (InputLength floats, kept by the batcher until it is classified) and returns its
    /// probabilities once its batch has run. Cancelling <paramref name="cancellation"/> before the batch runs drops the
    /// sample and cancels the task; a full queue throws <see cref="ServerBusyException"/>; a failed forward fails the task
    /// with the classifier's exception.
    /// </summary>
    public Task<float[]> ClassifyAsync(float[] sample, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.Length != _inputLength)
            throw new ArgumentException($"a sample has {_inputLength} floats (got {sample.Length}).", nameof(sample));
        if (cancellation.IsCancellationRequested) return Task.FromCanceled<float[]>(cancellation);
        var pending = new Pending(sample, cancellation);
        if (!_queue.Writer.TryWrite(pending))
        {
            pending.Release();
            throw new ServerBusyException(_queue.Reader.CanCount ? _queue.Reader.Count : -1);
        }
        return pending.Result;
    }

    /// <summary>Stops accepting requests, answers every request still queued, and waits for the worker to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            int count = 0;
            long firstArrived = 0;
            while (count < _maxBatch)
            {
                if (reader.TryRead(out var pending))
                {
                    if (!pending.TryStart())
                    {
                        Interlocked.Increment(ref _dropped); // cancelled while it waited: its slot goes to the next request
                        pending.Release();
                        continue;
                    }
                    if (count == 0) firstArrived = Stopwatch.GetTimestamp();
                    _batch[count++] = pending;
                    continue;
                }
                // The queue is empty. Wait for more only if the batch has room, requests the server holds are still on
                // their way (reading or decoding their image), and the wait has not used up MaxWait.
                if (count == 0 || Volatile.Read(ref _inServer) <= count) break;
                var remaining = _maxWait - Stopwatch.GetElapsedTime(firstArrived);
                if (remaining <= TimeSpan.Zero) break;
                var more = reader.WaitToReadAsync().AsTask();
                if (await Task.WhenAny(more, Task.Delay(remaining)).ConfigureAwait(false) != more || !more.Result) break;
            }
            if (count > 0) RunBatch(count);
        }
    }

    private void RunBatch(int count)
    {
        try
        {
            for (int i = 0; i < count; i++)
                _batch[i].Sample.AsSpan().CopyTo(_samples.AsSpan(i * _inputLength, _inputLength));
            _classifier.Classify(_samples.AsSpan(0, count * _inputLength), count, _probabilities.AsSpan(0, count * _classCount));
            Interlocked.Increment(ref _forwards);
            Interlocked.Add(ref _classified, count);
            for (int i = 0; i < count; i++)
                _batch[i].Complete(_probabilities.AsSpan(i * _classCount, _classCount).ToArray());
        }
        catch (Exception e)
        {
            // A failed forward fails its requests (each answers 500 with the message); the worker and the server go on.
            for (int i = 0; i < count; i++) _batch[i].Fail(e);
        }
        finally
        {
            Array.Clear(_batch, 0, count);
        }
    }

    /// <summary>One queued request: its sample, its completion, and whether the worker or a cancellation claimed it first.</summary>
    private sealed class Pending
    {
        private const int Queued = 0, Running = 1, Cancelled = 2;
        private readonly TaskCompletionSource<float[]> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationToken _cancellation;
        private CancellationTokenRegistration _registration;
        private int _state;

        public Pending(float[] sample, CancellationToken cancellation)
        {
            Sample = sample;
            _cancellation = cancellation;
            if (cancellation.CanBeCanceled) _registration = cancellation.Register(static s => ((Pending)s!).Cancel(), this);
        }

        public float[] Sample { get; }

        public Task<float[]> Result => _done.Task;

        /// <summary>Claims the request for a batch; false if it was cancelled first.</summary>
        public bool TryStart() => Interlocked.CompareExchange(ref _state, Running, Queued) == Queued;

        public void Complete(float[] probabilities)
        {
            Release();
            _done.TrySetResult(probabilities);
        }

        public void Fail(Exception e)
        {
            Release();
            _done.TrySetException(e);
        }

        public void Release() => _registration.Dispose();

        private void Cancel()
        {
            // Only a request still queued is cancelled here; one already in a running batch gets its answer.
            if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued) _done.TrySetCanceled(_cancellation);
        }
    }
}

/// <summary>The batching queue is full: the server is overloaded (503; the client may retry).</summary>
public sealed class ServerBusyException(int queued)
    : Exception($"the server is overloaded ({(queued >= 0 ? queued.ToString(System.Globalization.CultureInfo.InvariantCulture) : "too many")} requests queued); retry later")
{
}
