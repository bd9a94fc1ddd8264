using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Tensors;

/// <summary>Process-wide engine settings: the backend new tensors land on, and the CPU thread count.</summary>
public static class Engine
{
    private static IBackend? _defaultBackend;

    /// <summary>The backend used when a factory is given none. Starts as the SIMD CPU engine.</summary>
    public static IBackend DefaultBackend
    {
        get => _defaultBackend ?? CpuBackend.Instance;
        set => _defaultBackend = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Threads the CPU kernels use (the one setting; see <see cref="ParallelFor"/>).</summary>
    public static int Threads
    {
        get => ParallelFor.ThreadCount;
        set => ParallelFor.ThreadCount = value;
    }
}
