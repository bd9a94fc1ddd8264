namespace NativeConv.Tensors.Backends;

/// <summary>Where a backend runs its kernels.</summary>
public enum DeviceKind
{
    /// <summary>The managed SIMD engine on the host CPU (the reference implementation).</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through ILGPU's CUDA accelerator.</summary>
    Cuda,
    /// <summary>An OpenCL device through ILGPU.</summary>
    OpenCL,
    /// <summary>ILGPU's CPU accelerator: GPU kernels emulated on the CPU, for tests and debugging.</summary>
    IlgpuCpu,
}
