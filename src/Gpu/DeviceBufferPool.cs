namespace NativeConv.Gpu;

/// <summary>
/// Exact-length buckets of device storages, one pool per accelerator. A training step asks for the same lengths every
/// step, so after the first step nothing is allocated on the device. Thread-safe (a lock per rent/return).
/// </summary>
internal sealed class DeviceBufferPool : IDisposable
{
    private readonly Dictionary<int, Stack<GpuStorage>> _buckets = new();
    private readonly object _gate = new();
    private long _bytesRetained;

    public long BytesRetained { get { lock (_gate) return _bytesRetained; } }

    public bool TryRent(int length, out GpuStorage storage)
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

    public void Return(GpuStorage storage)
    {
        lock (_gate)
        {
            if (!_buckets.TryGetValue(storage.Length, out var stack))
            {
                stack = new Stack<GpuStorage>();
                _buckets.Add(storage.Length, stack);
            }
            stack.Push(storage);
            _bytesRetained += (long)storage.Length * sizeof(float);
        }
    }

    /// <summary>Frees every pooled device buffer (after an out-of-memory, or between models).</summary>
    public void Trim()
    {
        lock (_gate)
        {
            foreach (var stack in _buckets.Values)
                foreach (var storage in stack) storage.Buffer.Dispose();
            _buckets.Clear();
            _bytesRetained = 0;
        }
    }

    public void Dispose() => Trim();
}
