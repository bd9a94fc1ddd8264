using NativeConv.Tensors.Backends;

namespace NativeConv.Tests.Backends;

/// <summary>The backend suite on ILGPU's CPU accelerator: the GPU kernels, run on host threads (groups of 16, shared memory and barriers emulated).</summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public sealed class IlgpuCpuBackendSuite : BackendSuite
{
    protected override IBackend Backend => TestBackends.IlgpuCpu;
}
