using NativeConv.Gpu;

namespace NativeConv.Tests.Backends;

/// <summary>
/// Backends shared by the test classes: compiling ILGPU kernels is slow on the CPU accelerator, so one backend (and its
/// kernel cache) serves every ilgpu-cpu test. Those tests share the "ilgpu-cpu" collection, so they never run concurrently.
/// </summary>
public static class TestBackends
{
    public const string IlgpuCpuCollection = "ilgpu-cpu";

    private static readonly Lazy<IlgpuBackend> IlgpuCpuBackend = new(() => GpuDevices.CreateBackend("ilgpu-cpu"));
    private static readonly Lazy<string?> CudaReason = new(GpuDevices.CudaUnavailableReason);
    private static readonly Lazy<IlgpuBackend> CudaBackend = new(() => GpuDevices.CreateBackend("cuda"));

    /// <summary>ILGPU's CPU accelerator: always available.</summary>
    public static IlgpuBackend IlgpuCpu => IlgpuCpuBackend.Value;

    /// <summary>The first CUDA device; only touch it when <see cref="CudaSkipReason"/> is null.</summary>
    public static IlgpuBackend Cuda => CudaBackend.Value;

    /// <summary>Why the CUDA runs are skipped on this machine, or null when a CUDA device is present.</summary>
    public static string? CudaSkipReason => CudaReason.Value is null ? null : $"No CUDA device: {CudaReason.Value}";
}

[CollectionDefinition(TestBackends.IlgpuCpuCollection, DisableParallelization = true)]
public sealed class IlgpuCpuCollection { }
