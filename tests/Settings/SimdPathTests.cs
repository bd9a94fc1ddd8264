using System.Runtime.Intrinsics;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Tests.Settings;

/// <summary>The vector path's name: every combination of features, and this machine's, as the kernels see it.</summary>
public sealed class SimdPathTests
{
    // (Vector512, GEMM on AVX-512, Vector256, Vector128, AdvSimd, SSE) → name
    [Theory]
    [InlineData(true, true, true, true, false, true, "AVX-512")]
    [InlineData(false, true, true, true, false, true, "AVX2 (GEMM: AVX-512)")] // Skylake-X: .NET leaves Vector512 off, the GEMM does not
    [InlineData(false, false, true, true, false, true, "AVX2")]
    [InlineData(false, false, false, true, false, true, "Vector128 (SSE)")]     // x64 with AVX2 hidden (DOTNET_EnableAVX2=0)
    [InlineData(false, false, false, true, true, false, "Vector128 (NEON)")]    // every ARM64
    [InlineData(false, false, false, true, false, false, "Vector128")]          // another architecture with 128-bit vectors
    [InlineData(false, false, false, false, false, true, "scalar")]             // DOTNET_EnableHWIntrinsic=0
    [InlineData(false, false, false, false, true, false, "scalar")]
    public void Every_feature_combination_has_its_name(bool v512, bool gemm512, bool v256, bool v128, bool advSimd, bool sse, string expected) =>
        Assert.Equal(expected, SimdPath.Describe(new SimdFeatures(v512, gemm512, v256, v128, advSimd, sse)));

    [Fact]
    public void This_machine_is_named_from_what_the_runtime_accelerates_and_never_scalar_with_128_bit_vectors()
    {
        var features = SimdFeatures.Current;
        Assert.Equal(Vector512.IsHardwareAccelerated, features.Vector512Accelerated);
        Assert.Equal(Vector256.IsHardwareAccelerated, features.Vector256Accelerated);
        Assert.Equal(Vector128.IsHardwareAccelerated, features.Vector128Accelerated);
        Assert.Equal(SimdPath.Describe(features), SimdPath.Current);
        Assert.Equal(SimdPath.Current, CpuBackend.SimdDescription);
        Assert.Equal(!Vector128.IsHardwareAccelerated, SimdPath.Current == "scalar");
        // The GEMM's own switch decides the "(GEMM: AVX-512)" note.
        Assert.Equal(NativeConv.Tensors.Backends.Cpu.Kernels.Gemm.Sgemm.UseVector512, features.GemmUsesVector512);
        Assert.Equal(features.GemmUsesVector512 && !features.Vector512Accelerated, SimdPath.Current.EndsWith("(GEMM: AVX-512)", StringComparison.Ordinal));
    }
}
