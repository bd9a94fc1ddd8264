using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;

/// <summary>
/// The float operations an elementwise kernel is written in, over one vector width: a kernel is one generic method over
/// <c>TVec</c>, and the JIT specialises it per struct (<see cref="F32x16"/>, <see cref="F32x8"/>, <see cref="F32x4"/>,
/// <see cref="F32x1"/>). Every operation is IEEE-exact elementwise (+, −, ·, /, √ correctly rounded; never a fused
/// multiply-add), so one kernel gives the same bits at every width. <see cref="Max"/> is IEEE 754:2019 maximum (a NaN
/// propagates, −0 &lt; +0): <c>Vector128.Max</c> and <c>MathF.Max</c> agree on it.
/// </summary>
internal unsafe interface IFloatVector<TSelf> where TSelf : struct, IFloatVector<TSelf>
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    static abstract TSelf Load(float* p);
    static abstract void Store(float* p, TSelf value);
    static abstract TSelf Broadcast(float value);
    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);
    static abstract TSelf Sqrt(TSelf a);
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>All bits set in each lane where a &gt; b (false for NaN), else all clear: a mask for <see cref="And"/>.</summary>
    static abstract TSelf GreaterThan(TSelf a, TSelf b);

    /// <summary>Bitwise and: with a <see cref="GreaterThan"/> mask, keeps a lane's bits (NaN payload and sign included) or gives +0.</summary>
    static abstract TSelf And(TSelf a, TSelf b);
}

internal readonly unsafe struct F32x16(Vector512<float> value) : IFloatVector<F32x16>
{
    private readonly Vector512<float> _v = value;
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, F32x16 value) => value._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 Broadcast(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 operator +(F32x16 a, F32x16 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 operator -(F32x16 a, F32x16 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 operator *(F32x16 a, F32x16 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 operator /(F32x16 a, F32x16 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 Sqrt(F32x16 a) => new(Vector512.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 Max(F32x16 a, F32x16 b) => new(Vector512.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 GreaterThan(F32x16 a, F32x16 b) => new(Vector512.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x16 And(F32x16 a, F32x16 b) => new(a._v & b._v);
}

internal readonly unsafe struct F32x8(Vector256<float> value) : IFloatVector<F32x8>
{
    private readonly Vector256<float> _v = value;
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, F32x8 value) => value._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 Broadcast(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 operator +(F32x8 a, F32x8 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 operator -(F32x8 a, F32x8 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 operator *(F32x8 a, F32x8 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 operator /(F32x8 a, F32x8 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 Sqrt(F32x8 a) => new(Vector256.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 Max(F32x8 a, F32x8 b) => new(Vector256.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 GreaterThan(F32x8 a, F32x8 b) => new(Vector256.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x8 And(F32x8 a, F32x8 b) => new(a._v & b._v);
}

/// <summary>128-bit lanes: NEON on ARM64, SSE/AVX on x64 (the path <c>DOTNET_EnableAVX2=0</c> exercises).</summary>
internal readonly unsafe struct F32x4(Vector128<float> value) : IFloatVector<F32x4>
{
    private readonly Vector128<float> _v = value;
    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 Load(float* p) => new(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, F32x4 value) => value._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 Broadcast(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 operator +(F32x4 a, F32x4 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 operator -(F32x4 a, F32x4 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 operator *(F32x4 a, F32x4 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 operator /(F32x4 a, F32x4 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 Sqrt(F32x4 a) => new(Vector128.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 Max(F32x4 a, F32x4 b) => new(Vector128.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 GreaterThan(F32x4 a, F32x4 b) => new(Vector128.GreaterThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x4 And(F32x4 a, F32x4 b) => new(a._v & b._v);
}

/// <summary>One float: the tails, and the whole loop where no vector width is accelerated.</summary>
internal readonly unsafe struct F32x1(float value) : IFloatVector<F32x1>
{
    private readonly float _v = value;
    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 Load(float* p) => new(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, F32x1 value) => *p = value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 Broadcast(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 operator +(F32x1 a, F32x1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 operator -(F32x1 a, F32x1 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 operator *(F32x1 a, F32x1 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 operator /(F32x1 a, F32x1 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 Sqrt(F32x1 a) => new(MathF.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32x1 Max(F32x1 a, F32x1 b) => new(MathF.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static F32x1 GreaterThan(F32x1 a, F32x1 b) => new(BitConverter.Int32BitsToSingle(a._v > b._v ? -1 : 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static F32x1 And(F32x1 a, F32x1 b) =>
        new(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a._v) & BitConverter.SingleToInt32Bits(b._v)));
}
