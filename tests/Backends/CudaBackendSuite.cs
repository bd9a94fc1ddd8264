using NativeConv.Tensors.Backends;

namespace NativeConv.Tests.Backends;

/// <summary>The backend suite on the first CUDA device; every test is reported skipped, with the reason, where there is none.</summary>
public sealed class CudaBackendSuite : BackendSuite
{
    protected override IBackend Backend => TestBackends.Cuda;

    public static string? SkipReason(string test) => TestBackends.CudaSkipReason;
}
