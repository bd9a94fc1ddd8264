using NativeConv.Tensors.Backends;

namespace NativeConv.Tensors.Storage;

/// <summary>
/// A flat float32 buffer owned by one backend (host memory for the CPU engine, a device buffer for a GPU).
/// Storages come from the backend's pool and go back to it; a tensor never frees one itself.
/// </summary>
public abstract class TensorStorage
{
    protected TensorStorage(IBackend backend, int length)
    {
        Backend = backend;
        Length = length;
    }

    /// <summary>The backend whose kernels can read and write this storage.</summary>
    public IBackend Backend { get; }

    /// <summary>Number of float32 elements.</summary>
    public int Length { get; }
}
