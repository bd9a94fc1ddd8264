using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tensors;

/// <summary>
/// The process-wide engine settings, given in one place: <see cref="Configure"/> applies an <see cref="EngineOptions"/>
/// (threads, convolution algorithm, Conv2D + ReLU fusion, default backend) and <see cref="Options"/> reads back what is in
/// force. The engine reads no environment variable: a program parses its own (the experiments CLI does, at its edge) and
/// passes the result in. The single-setting properties below are shorthands over the same state, kept for the callers
/// (layers, the trainer, tests) that change one setting.
/// </summary>
public static class Engine
{
    private static readonly object s_gate = new();
    private static IBackend? s_defaultBackend;
    private static volatile bool s_fuseConvRelu = EngineOptions.Defaults.FuseConvRelu;

    /// <summary>
    /// Validates <paramref name="options"/> (an <see cref="ArgumentException"/> naming the bad setting, with nothing
    /// applied) and applies every setting: the thread count to <see cref="ParallelFor"/>, the algorithm to
    /// <see cref="Conv2DAlgorithms.Default"/>, the fusion, and the default backend (null: the CPU engine).
    /// </summary>
    public static void Configure(EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (s_gate)
        {
            ParallelFor.ThreadCount = options.Threads;
            Conv2DAlgorithms.Default = options.ConvAlgorithm;
            s_fuseConvRelu = options.FuseConvRelu;
            s_defaultBackend = options.Backend;
        }
    }

    /// <summary>
    /// The settings in force, read back from where the engine keeps them (so a thread count set on
    /// <see cref="ParallelFor.ThreadCount"/> directly shows here too). <see cref="EngineOptions.Backend"/> is never null here.
    /// </summary>
    public static EngineOptions Options
    {
        get
        {
            lock (s_gate)
            {
                return new EngineOptions
                {
                    Threads = ParallelFor.ThreadCount,
                    ConvAlgorithm = Conv2DAlgorithms.Default,
                    FuseConvRelu = s_fuseConvRelu,
                    Backend = DefaultBackend,
                };
            }
        }
    }

    /// <summary>The backend used when a factory is given none. Starts as the SIMD CPU engine.</summary>
    public static IBackend DefaultBackend
    {
        get => s_defaultBackend ?? CpuBackend.Instance;
        set => s_defaultBackend = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    /// True (the default): a Sequential runs each Conv2D layer immediately followed by a ReLU layer as the one fused op
    /// Op.Conv2DRelu (see <see cref="EngineOptions.FuseConvRelu"/>). An execution detail only: layers, parameter names,
    /// summaries and checkpoints are unchanged.
    /// </summary>
    public static bool FuseConvRelu
    {
        get => s_fuseConvRelu;
        set => s_fuseConvRelu = value;
    }

    /// <summary>Threads the CPU kernels use (see <see cref="ParallelFor"/>).</summary>
    public static int Threads
    {
        get => ParallelFor.ThreadCount;
        set => ParallelFor.ThreadCount = value;
    }
}
