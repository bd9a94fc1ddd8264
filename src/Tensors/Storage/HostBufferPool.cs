namespace NativeConv.Tensors.Storage;

/// <summary>
/// Exact-length buckets of host storages. A training step asks for the same lengths every step, so after the
/// first step every request is served from a bucket and nothing is allocated. Thread-safe (a lock per call:
/// storages are rented per op, not per element).
/// </summary>
internal sealed class HostBufferPool
{
    private readonly Dictionary<int, Stack<HostStorage>> _buckets = new();
    private readonly object _gate = new();
    private long _bytesRetained;

    public long BytesRetained => Interlocked.Read(ref _bytesRetained);

    public bool TryRent(int length, out HostStorage storage)
    {
        lock (_gate)
        {
            if (_buckets.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                storage = stack.Pop();
                _bytesRetained -= (long)length * sizeof(float);
                return true;
            }
        }
        storage = null!;
        return false;
    }

    public void Return(HostStorage storage)
    {
        lock (_gate)
        {
            if (!_buckets.TryGetValue(storage.Length, out var stack))
            {
                stack = new Stack<HostStorage>();
                _buckets.Add(storage.Length, stack);
            }
            stack.Push(storage);
            _bytesRetained += (long)storage.Length * sizeof(float);
        }
    }

    /// <summary>Drops every pooled buffer (for example between studies with different models).</summary>
    public void Trim()
    {
        lock (_gate)
        {
            _buckets.Clear();
            _bytesRetained = 0;
        }
    }
}
