using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Tests.Backends;

/// <summary>The backend suite on the SIMD CPU engine.</summary>
public sealed class CpuBackendSuite : BackendSuite
{
    protected override IBackend Backend => CpuBackend.Instance;
}
