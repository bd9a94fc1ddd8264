using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// Names the vector path this test process runs (printed in every CI leg and by tests/run-arm64.sh), and fails when the
/// runtime did not take the path the leg asked for: a DOTNET_EnableAVX2=0 leg that still ran Vector256 code, or an ARM64
/// run without NEON, would otherwise test the wrong kernels and pass.
/// </summary>
public sealed class VectorPathTests(ITestOutputHelper log)
{
    public static string Describe() =>
        $"{RuntimeInformation.ProcessArchitecture}: Vector512 {Vector512.IsHardwareAccelerated}, " +
        $"Vector256 {Vector256.IsHardwareAccelerated}, Vector128 {Vector128.IsHardwareAccelerated}, " +
        $"AdvSimd {AdvSimd.IsSupported}, AVX-512F {Avx512F.IsSupported}, AVX2 {Avx2.IsSupported}, FMA {Fma.IsSupported}";

    private static bool Disabled(string variable) => Environment.GetEnvironmentVariable(variable) == "0";

    [Fact]
    public void The_vector_path_is_the_one_this_run_asked_for()
    {
        string path = Describe();
        log.WriteLine($"vector path: {path}");

        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            Assert.True(AdvSimd.IsSupported, $"ARM64 without AdvSimd (NEON): {path}");
            Assert.True(Vector128.IsHardwareAccelerated, $"ARM64 with Vector128 not accelerated: {path}");
        }
        if (Disabled("DOTNET_EnableHWIntrinsic"))
            Assert.False(Vector128.IsHardwareAccelerated, $"DOTNET_EnableHWIntrinsic=0, yet: {path}");
        if (Disabled("DOTNET_EnableAVX2"))
            Assert.False(Vector256.IsHardwareAccelerated || Avx2.IsSupported, $"DOTNET_EnableAVX2=0, yet: {path}");
        if (Disabled("DOTNET_EnableAVX512") || Disabled("DOTNET_EnableAVX512F"))
            Assert.False(Vector512.IsHardwareAccelerated || Avx512F.IsSupported, $"DOTNET_EnableAVX512=0, yet: {path}");
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64 && !Disabled("DOTNET_EnableHWIntrinsic"))
            Assert.True(Vector128.IsHardwareAccelerated, $"x64 always has SSE2, yet Vector128 is not accelerated: {path}");
    }
}
