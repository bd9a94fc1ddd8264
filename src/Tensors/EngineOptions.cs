using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tensors;

/// <summary>
/// Everything the engine is told rather than works out for itself: the CPU thread count, the convolution algorithm, the
/// Conv2D + ReLU fusion and the backend new tensors land on. Built by the caller (the experiments CLI builds it from its
/// options and the environment variables it parses once, at its edge) and given to the engine with
/// <see cref="Engine.Configure"/>; the engine reads no environment variable itself.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>The most threads <see cref="Threads"/> may ask for (the limit of <see cref="ParallelFor"/>).</summary>
    public const int MaxThreads = 256;

    /// <summary>The defaults: every processor (at most <see cref="MaxThreads"/>), conv Auto, fusion on, the CPU engine.</summary>
    public static EngineOptions Defaults { get; } = new();

    /// <summary>Threads the CPU kernels use, the caller included: 1 to <see cref="MaxThreads"/>.</summary>
    public int Threads { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, MaxThreads);

    /// <summary>How the CPU computes convolutions (Auto: per layer from its shape). Winograd rounds differently from im2col.</summary>
    public Conv2DAlgorithm ConvAlgorithm { get; init; } = Conv2DAlgorithm.Auto;

    /// <summary>
    /// True (the default): a Sequential runs each Conv2D layer immediately followed by a ReLU layer as the one fused op
    /// Op.Conv2DRelu (the same numbers, fewer passes over memory). Off for A/B comparisons and tests.
    /// </summary>
    public bool FuseConvRelu { get; init; } = true;

    /// <summary>The backend used when a factory is given none; null means the SIMD CPU engine.</summary>
    public IBackend? Backend { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is out of range; returns this.</summary>
    public EngineOptions Validate()
    {
        if (Threads is < 1 or > MaxThreads)
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, $"Engine options: threads must be between 1 and {MaxThreads}; got {Threads}.");
        if (!Enum.IsDefined(ConvAlgorithm))
            throw new ArgumentOutOfRangeException(nameof(ConvAlgorithm), ConvAlgorithm, $"Engine options: '{ConvAlgorithm}' is not a convolution algorithm; use Auto, Im2Col or Winograd.");
        return this;
    }

    /// <summary>The settings that change the CPU kernels' rounding or speed, as one line: "conv auto, conv+relu fusion on".</summary>
    public string DescribeCpuKernels() =>
        $"conv {ConvAlgorithm.ToString().ToLowerInvariant()}, conv+relu fusion {(FuseConvRelu ? "on" : "off")}";
}
