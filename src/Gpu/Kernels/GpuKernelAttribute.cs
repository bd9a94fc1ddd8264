namespace NativeConv.Gpu.Kernels;

/// <summary>How a kernel is launched, which decides how ILGPU compiles its entry point.</summary>
public enum KernelGrouping
{
    /// <summary>First parameter is an Index1D; ILGPU picks the group size (LoadAutoGroupedStreamKernel).</summary>
    Implicit,
    /// <summary>No index parameter; the launch passes a KernelConfig (grid, group, dynamic shared memory).</summary>
    Explicit,
}

/// <summary>
/// Marks a static method as a device kernel. The PTX compile test enumerates every method carrying this attribute and
/// compiles it for sm_80 and sm_90, so a kernel that the CPU accelerator accepts but the CUDA backend rejects fails CI.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class GpuKernelAttribute(KernelGrouping grouping) : Attribute
{
    public KernelGrouping Grouping { get; } = grouping;
}
