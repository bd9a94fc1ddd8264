namespace NativeConv.Tensors.Storage;

/// <summary>
/// Exact-length buckets of storages, one pool per backend (host arrays for the CPU engine, device buffers for a GPU).
/// A training step asks for the same lengths every step, so after the first step every request is served from a bucket
/// and nothing is allocated. Thread-safe: one lock per rent/return (storages are rented per op, never per element).
/// </summary>
public sealed class StoragePool<TStorage> where TStorage : TensorStorage
{
    private readonly Dictionary<int, Stack<TStorage>> _buckets = new();
    private readonly object _gate = new();
    private long _bytesRetained;

    /// <summary>Bytes held for reuse.</summary>
    public long BytesRetained { get { lock (_gate) return _bytesRetained; } }

    public bool TryRent(int length, out TStorage storage)
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

    public void Return(TStorage storage)
    {
        lock (_gate)
        {
            if (!_buckets.TryGetValue(storage.Length, out var stack))
            {
                stack = new Stack<TStorage>();
                _buckets.Add(storage.Length, stack);
            }
            stack.Push(storage);
            _bytesRetained += (long)storage.Length * sizeof(float);
        }
    }

    /// <summary>Drops every pooled storage, handing each to <paramref name="free"/> first (device buffers must be disposed).</summary>
    public void Trim(Action<TStorage>? free = null)
    {
        lock (_gate)
        {
            if (free is not null)
                foreach (var stack in _buckets.Values)
                    foreach (var storage in stack) free(storage);
            _buckets.Clear();
            _bytesRetained = 0;
        }
    }
}
