using System.Net;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// Settings of the prediction server, passed in (the `serve` command fills them from its options; tests and the load
/// bench set their own).
/// </summary>
public sealed record ServeOptions
{
    /// <summary>The address Kestrel listens on (loopback unless asked otherwise).</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The port; 0 lets the system pick a free one (tests, the load bench).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Most samples in one forward pass.</summary>
    public int MaxBatch { get; init; } = 32;

    /// <summary>
    /// Longest the batching worker waits for more requests to fill a batch after the first one arrived. It waits only while
    /// the server holds requests that are not in the batch yet (see <see cref="MicroBatcher"/>), so a lone client never
    /// pays it.
    /// </summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Largest request body accepted (the image, or the whole multipart form); larger → 413.</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>
    /// Largest image decoded, in pixels (a few kilobytes of PNG can hold a huge flat image): larger → 400 before its
    /// pixels are decoded. Below <see cref="ImageInput.MaxPixels"/>, the decoder's own ceiling.
    /// </summary>
    public long MaxImagePixels { get; init; } = 4096 * 4096;

    /// <summary>A request not answered within this time is cancelled (its slot dropped if its batch has not run) → 504.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests waiting for the batching worker at most; more → 503 (the server is overloaded; retry).</summary>
    public int QueueCapacity { get; init; } = 1024;

    /// <summary>How long a shutdown (SIGTERM, Ctrl-C) waits for in-flight requests before it stops anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port must be 0..65535 (got {Port}).");
        if (MaxBatch < 1) throw new ArgumentException($"--max-batch must be at least 1 (got {MaxBatch}).");
        if (MaxWait < TimeSpan.Zero || MaxWait > TimeSpan.FromSeconds(1))
            throw new ArgumentException($"--max-wait-ms must be 0..1000 (got {MaxWait.TotalMilliseconds}).");
        if (MaxBodyBytes < 1) throw new ArgumentException($"--max-body-bytes must be at least 1 (got {MaxBodyBytes}).");
        if (MaxImagePixels < 1 || MaxImagePixels > ImageInput.MaxPixels)
            throw new ArgumentException($"--max-image-pixels must be 1..{ImageInput.MaxPixels} (got {MaxImagePixels}).");
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentException($"--timeout-ms must be positive (got {RequestTimeout.TotalMilliseconds}).");
        if (QueueCapacity < 1) throw new ArgumentException($"the queue capacity must be at least 1 (got {QueueCapacity}).");
        if (ShutdownTimeout < TimeSpan.Zero) throw new ArgumentException($"the shutdown timeout must not be negative (got {ShutdownTimeout}).");
    }
}
