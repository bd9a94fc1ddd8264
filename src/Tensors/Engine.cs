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

    /// <summary>Environment variable that sets <see cref="FuseConvRelu"/> at start-up: 0 / false / off turns the fusion off.</summary>
    public const string FuseConvReluVariable = "NATIVECONV_FUSE";

    /// <summary>
    /// True (the default): a Sequential runs each Conv2D layer immediately followed by a ReLU layer as the one fused op
    /// Op.Conv2DRelu (same numbers, fewer passes over memory). An execution detail only: layers, parameter names,
    /// summaries and checkpoints are unchanged. Off for A/B comparisons and tests (NATIVECONV_FUSE=0).
    /// </summary>
    public static bool FuseConvRelu { get; set; } = FuseFromEnvironment();

    private static bool FuseFromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(FuseConvReluVariable);
        if (string.IsNullOrWhiteSpace(value)) return true;
        return value.Trim().ToLowerInvariant() switch
        {
            "1" or "true" or "on" => true,
            "0" or "false" or "off" => false,
            _ => throw new InvalidOperationException(
                $"{FuseConvReluVariable}='{value}' is not a switch; use 1 (fuse Conv2D + ReLU, the default) or 0 (run them separately)."),
        };
    }

    /// <summary>Threads the CPU kernels use (the one setting; see <see cref="ParallelFor"/>).</summary>
    public static int Threads
    {
        get => ParallelFor.ThreadCount;
        set => ParallelFor.ThreadCount = value;
    }
}
