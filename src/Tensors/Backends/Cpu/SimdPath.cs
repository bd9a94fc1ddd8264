using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu;

/// <summary>
/// The hardware facts the CPU kernels dispatch on: which vector widths the runtime accelerates, whether the GEMM takes its
/// AVX-512 micro-kernel (it does also where the runtime leaves Vector512 unaccelerated but the CPU has AVX-512, see
/// <see cref="Kernels.Gemm.Sgemm.UseVector512"/>), and which instruction set a 128-bit vector compiles to.
/// </summary>
public readonly record struct SimdFeatures(
    bool Vector512Accelerated,
    bool GemmUsesVector512,
    bool Vector256Accelerated,
    bool Vector128Accelerated,
    bool AdvSimd,
    bool Sse)
{
    /// <summary>This process's features (they follow DOTNET_EnableAVX512 / EnableAVX2 / EnableHWIntrinsic).</summary>
    public static SimdFeatures Current => new(
        Vector512.IsHardwareAccelerated,
        Kernels.Gemm.Sgemm.UseVector512,
        Vector256.IsHardwareAccelerated,
        Vector128.IsHardwareAccelerated,
        System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported,
        System.Runtime.Intrinsics.X86.Sse.IsSupported);
}

/// <summary>
/// The name of the widest vector path the CPU kernels take, for run headers, results.json and `devices`: "AVX-512",
/// "AVX2", "Vector128 (NEON)" (ARM64), "Vector128 (SSE)" (x64 with 128-bit vectors only), and "scalar" only where not even
/// 128-bit vectors are accelerated. A GEMM on AVX-512 under a narrower general path says so: "AVX2 (GEMM: AVX-512)".
/// </summary>
public static class SimdPath
{
    /// <summary>This machine's path, as the kernels see it (fixed for the life of the process).</summary>
    public static string Current { get; } = Describe(SimdFeatures.Current);

    /// <summary>The name of the path <paramref name="features"/> give (pure: tests pass every combination).</summary>
    public static string Describe(SimdFeatures features)
    {
        string path = features.Vector512Accelerated ? "AVX-512"
            : features.Vector256Accelerated ? "AVX2" // .NET accelerates Vector256 on x64 only with AVX2, and nowhere else
            : features.Vector128Accelerated ? features.AdvSimd ? "Vector128 (NEON)" : features.Sse ? "Vector128 (SSE)" : "Vector128"
            : "scalar";
        return features.GemmUsesVector512 && !features.Vector512Accelerated ? $"{path} (GEMM: AVX-512)" : path;
    }
}
