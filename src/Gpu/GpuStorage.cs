using ILGPU;
using ILGPU.Runtime;
using NativeConv.Tensors.Storage;

namespace NativeConv.Gpu;

/// <summary>
/// Device memory of one ILGPU accelerator: a dense float32 buffer. Storages come from the backend's pool and return to it;
/// only the backend frees the buffer (when it is trimmed or disposed).
/// </summary>
public sealed class GpuStorage : TensorStorage
{
    internal GpuStorage(IlgpuBackend backend, MemoryBuffer1D<float, Stride1D.Dense> buffer, int length)
        : base(backend, length)
    {
        Buffer = buffer;
        View = buffer.View.SubView(0, length);
    }

    /// <summary>The ILGPU buffer (at least one element long, even for an empty storage).</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; }

    /// <summary>The first <see cref="TensorStorage.Length"/> elements of the buffer.</summary>
    public FloatView View { get; }
}
