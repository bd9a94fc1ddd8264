using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// The vector operations the register-blocked micro-kernel <see cref="VectorKernel{TOps, TVector, TRows}"/> is written in,
/// one struct per width over the raw vector type TVector. Every member is a JIT-time constant or one instruction or two,
/// so the kernel compiles to the code a hand-written copy per width would (checked in .NET 10's JIT output: the AVX2 loop
/// is instruction for instruction the former hand-written Kernel256's). The kernel's locals are the raw vectors, not a
/// wrapper struct around them: with a wrapper, the JIT output had a register move after every second FMA.
/// </summary>
internal unsafe interface IGemmVector<TVector> where TVector : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Whether this width runs in hardware vectors here (else it is emulated and slower than scalar code).</summary>
    static abstract bool IsHardwareAccelerated { get; }

    /// <summary>All lanes zero (an accumulator's start: `default` of a generic TVector would be a block init the JIT does
    /// not keep in a register).</summary>
    static abstract TVector Zero { get; }

    static abstract TVector Load(float* p);
    static abstract void Store(float* p, TVector v);

    /// <summary>value in every lane.</summary>
    static abstract TVector Create(float value);

    /// <summary>*p in every lane, as one broadcast load (vbroadcastss, ld1r).</summary>
    static abstract TVector Broadcast(float* p);

    static abstract TVector Multiply(TVector a, TVector b);

    /// <summary>
    /// a·b + c: fused (one rounding) where the CPU has FMA, a multiply and an add where it has not. Never
    /// FusedMultiplyAdd's software emulation, which runs element by element (x64 without FMA: DOTNET_EnableAVX2=0).
    /// </summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);

    /// <summary>
    /// True where <see cref="MultiplyAddByLane"/> is one instruction (ARM64 NEON's by-element FMLA): the kernel then loads
    /// four A values as one vector and multiplies by its lanes instead of broadcasting each, a quarter of the A loads.
    /// </summary>
    static abstract bool HasLaneMultiplyAdd { get; }

    /// <summary>
    /// acc + b · quad[lane]. Correct everywhere, but one instruction only where <see cref="HasLaneMultiplyAdd"/>. (Never a
    /// throw in the dead branch: a call that cannot be inlined keeps the accumulators it is passed out of registers.)
    /// </summary>
    static abstract TVector MultiplyAddByLane(TVector acc, TVector b, Vector128<float> quad, [ConstantExpected(Max = (byte)3)] byte lane);
}

/// <summary>AVX2 (x64 without AVX-512): 8 floats, 16 ymm registers.</summary>
internal readonly unsafe struct GemmVector256 : IGemmVector<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static bool IsHardwareAccelerated => Vector256.IsHardwareAccelerated;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Create(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float* p) => Vector256.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Vector256.MultiplyAddEstimate(a, b, c);

    public static bool HasLaneMultiplyAdd => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAddByLane(Vector256<float> acc, Vector256<float> b, Vector128<float> quad, [ConstantExpected(Max = (byte)3)] byte lane) =>
        MultiplyAdd(Vector256.Create(quad.GetElement(lane)), b, acc);
}

/// <summary>
/// 128-bit vectors: ARM64 NEON (32 registers, FMA, by-element FMLA) and x64 SSE/AVX without AVX2 (16 registers; FMA only
/// where the CPU has it).
/// </summary>
internal readonly unsafe struct GemmVector128 : IGemmVector<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static bool IsHardwareAccelerated => Vector128.IsHardwareAccelerated;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector128<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Create(float value) => Vector128.Create(value);

    // Without AVX2 the JIT builds Vector128.Create(*p) from a scalar load and a shuffle (vpermilps, on an FP pipe the
    // multiplies need); AVX's own vbroadcastss from memory is one load.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float* p) => Avx.IsSupported ? Avx.BroadcastScalarToVector128(p) : Vector128.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Vector128.MultiplyAddEstimate(a, b, c);

    public static bool HasLaneMultiplyAdd => AdvSimd.Arm64.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAddByLane(Vector128<float> acc, Vector128<float> b, Vector128<float> quad, [ConstantExpected(Max = (byte)3)] byte lane) =>
        AdvSimd.Arm64.IsSupported
            ? AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(acc, b, quad, lane)
            : MultiplyAdd(Vector128.Create(quad.GetElement(lane)), b, acc);
}
