using NativeConv.Experiments.Serving;

namespace NativeConv.Tests.Serving;

/// <summary>The micro-batcher on its own: batching, cancellation, failure, draining on dispose.</summary>
public sealed class ServeBatcherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static float[] Sample(int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble()).ToArray();
    }

    private static float[] Expected(float[] sample)
    {
        var probabilities = new float[4];
        ServeTestClassifier.Reference(sample, 1, probabilities);
        return probabilities;
    }

    [Fact]
    public async Task Requests_queued_during_a_forward_run_together_in_the_next_one()
    {
        var classifier = new ServeTestClassifier();
        await using var batcher = new MicroBatcher(classifier, maxBatch: 32, TimeSpan.Zero, queueCapacity: 100);
        classifier.Hold();
        var first = batcher.ClassifyAsync(Sample(0), CancellationToken.None);
        await classifier.WaitForForwardAsync(Wait);
        var rest = Enumerable.Range(1, 10).Select(i => batcher.ClassifyAsync(Sample(i), CancellationToken.None)).ToArray();
        classifier.Release();
        Assert.Equal(Expected(Sample(0)), await first.WaitAsync(Wait));
        for (int i = 0; i < rest.Length; i++) Assert.Equal(Expected(Sample(i + 1)), await rest[i].WaitAsync(Wait));
        Assert.Equal([1, 10], classifier.BatchSizes);
        Assert.Equal(2, batcher.Forwards);
    }

    [Fact]
    public async Task A_cancelled_request_is_dropped_before_its_batch_runs()
    {
        var classifier = new ServeTestClassifier();
        await using var batcher = new MicroBatcher(classifier, maxBatch: 32, TimeSpan.Zero, queueCapacity: 100);
        classifier.Hold();
        var first = batcher.ClassifyAsync(Sample(0), CancellationToken.None);
        await classifier.WaitForForwardAsync(Wait);
        using var cancel = new CancellationTokenSource();
        var dropped = batcher.ClassifyAsync(Sample(1), cancel.Token);
        var kept = batcher.ClassifyAsync(Sample(2), CancellationToken.None);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dropped.WaitAsync(Wait));
        classifier.Release();
        await first.WaitAsync(Wait);
        Assert.Equal(Expected(Sample(2)), await kept.WaitAsync(Wait));
        Assert.Equal(1, batcher.Dropped);
        Assert.Equal([1, 1], classifier.BatchSizes);
    }

    [Fact]
    public async Task A_failed_forward_fails_its_requests_and_the_worker_goes_on()
    {
        var classifier = new ServeTestClassifier { Failure = new InvalidOperationException("broken") };
        await using var batcher = new MicroBatcher(classifier, maxBatch: 4, TimeSpan.Zero, queueCapacity: 10);
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.ClassifyAsync(Sample(0), CancellationToken.None).WaitAsync(Wait));
        Assert.Equal("broken", failed.Message);
        classifier.Failure = null;
        Assert.Equal(Expected(Sample(1)), await batcher.ClassifyAsync(Sample(1), CancellationToken.None).WaitAsync(Wait));
    }

    [Fact]
    public async Task Dispose_answers_every_queued_request_before_it_ends()
    {
        var classifier = new ServeTestClassifier();
        var batcher = new MicroBatcher(classifier, maxBatch: 3, TimeSpan.Zero, queueCapacity: 100);
        classifier.Hold();
        var first = batcher.ClassifyAsync(Sample(0), CancellationToken.None);
        await classifier.WaitForForwardAsync(Wait);
        var queued = Enumerable.Range(1, 7).Select(i => batcher.ClassifyAsync(Sample(i), CancellationToken.None)).ToArray();
        var disposing = batcher.DisposeAsync().AsTask();
        Assert.Throws<ServerBusyException>(() => { _ = batcher.ClassifyAsync(Sample(9), CancellationToken.None); }); // closed to new work
        classifier.Release();
        await disposing.WaitAsync(Wait);
        await first;
        for (int i = 0; i < queued.Length; i++) Assert.Equal(Expected(Sample(i + 1)), await queued[i]);
        Assert.Equal([1, 3, 3, 1], classifier.BatchSizes);
    }

    [Fact]
    public async Task A_sample_of_the_wrong_length_is_refused()
    {
        await using var batcher = new MicroBatcher(new ServeTestClassifier(), maxBatch: 4, TimeSpan.Zero, queueCapacity: 10);
        Assert.Throws<ArgumentException>(() => { _ = batcher.ClassifyAsync(new float[15], CancellationToken.None); });
    }
}
