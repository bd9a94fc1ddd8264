using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>Width selection for the convolution kernels: the widest the machine accelerates, or a forced one.</summary>
public static class ConvVectors
{
    /// <summary>
    /// The widest width this machine runs at full speed: AVX-512, AVX2 (+ FMA), Vector128 (SSE on x64, NEON on ARM64 —
    /// what remains when AVX2 is hidden or absent), else scalar.
    /// </summary>
    public static VectorWidth Best { get; } = VectorWidths.Widest(IsSupported);

    public static bool IsSupported(VectorWidth width) => width switch
    {
        VectorWidth.Vector512 => Vec512.IsSupported,
        VectorWidth.Vector256 => Vec256.IsSupported,
        VectorWidth.Vector128 => Vec128.IsSupported,
        _ => true,
    };

    /// <summary>Floats per vector of a width (Auto: of <see cref="Best"/>).</summary>
    public static int Lanes(VectorWidth width) => (width == VectorWidth.Auto ? Best : width) switch
    {
        VectorWidth.Vector512 => 16,
        VectorWidth.Vector256 => 8,
        VectorWidth.Vector128 => 4,
        _ => 1,
    };

    /// <summary><paramref name="width"/>, or <see cref="Best"/> for Auto; throws for a width the machine cannot run.</summary>
    public static VectorWidth Resolve(VectorWidth width, string kernel)
    {
        if (width == VectorWidth.Auto) return Best;
        if (!IsSupported(width)) throw new ArgumentException($"{kernel}: {width} code cannot run on this machine.");
        return width;
    }

    /// <summary>
    /// The one place a resolved width becomes its vector struct: runs <paramref name="step"/> specialised for it (the
    /// JIT compiles one copy per struct; nothing is boxed). Kernels hand their arguments over in a small (ref) struct.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Run<TStep>(VectorWidth width, scoped ref TStep step) where TStep : IConvVectorStep, allows ref struct
    {
        switch (width)
        {
            case VectorWidth.Vector512: step.Run<Vec512>(); break;
            case VectorWidth.Vector256: step.Run<Vec256>(); break;
            case VectorWidth.Vector128: step.Run<Vec128>(); break;
            case VectorWidth.Scalar: step.Run<VecScalar>(); break;
            default: throw new ArgumentException($"ConvVectors.Run: resolve {width} first (ConvVectors.Resolve).");
        }
    }

    /// <summary>As <see cref="Run{TStep}(VectorWidth, ref TStep)"/>, for one item of a parallel body (a group, a chunk, a column block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Run<TItems>(VectorWidth width, scoped ref TItems items, int item) where TItems : IConvVectorItems, allows ref struct
    {
        switch (width)
        {
            case VectorWidth.Vector512: items.Run<Vec512>(item); break;
            case VectorWidth.Vector256: items.Run<Vec256>(item); break;
            case VectorWidth.Vector128: items.Run<Vec128>(item); break;
            case VectorWidth.Scalar: items.Run<VecScalar>(item); break;
            default: throw new ArgumentException($"ConvVectors.Run: resolve {width} first (ConvVectors.Resolve).");
        }
    }
}

/// <summary>Work written once over the vector width; <see cref="ConvVectors.Run{TStep}(VectorWidth, ref TStep)"/> picks the struct.</summary>
internal interface IConvVectorStep
{
    void Run<TVec>() where TVec : struct, IConvVector<TVec>;
}

/// <summary>A parallel body's items written once over the vector width; <see cref="ConvVectors"/> picks the struct per item.</summary>
internal interface IConvVectorItems
{
    void Run<TVec>(int item) where TVec : struct, IConvVector<TVec>;
}

/// <summary>
/// The vector operations the convolution kernels need, over one vector width (a kernel is written once over TSelf and
/// specialised per struct by the JIT). Widths are only mixed downwards (a 512-bit kernel may finish a row with 256- or
/// 128-bit steps): every machine that runs Vec512 runs Vec256 and Vec128, and every one that runs Vec256 runs Vec128.
/// </summary>
internal unsafe interface IConvVector<TSelf> where TSelf : struct, IConvVector<TSelf>
{
    static abstract int Count { get; }
    static abstract bool IsSupported { get; }
    static abstract TSelf Load(float* p);
    static abstract void Store(float* p, TSelf v);
    static abstract TSelf Load(ref float p, nuint offset);
    static abstract void Store(ref float p, nuint offset, TSelf v);
    static abstract TSelf Broadcast(float value);
    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);

    /// <summary>
    /// a·b + c: fused where the width's kernels always fused (512, 256: their machines have FMA); Vector128 uses
    /// MultiplyAddEstimate (fused where FMA exists, mul + add where it does not: an emulated FusedMultiplyAdd is very slow).
    /// </summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

    /// <summary>The sum of the lanes (the width's own Vector*.Sum order).</summary>
    static abstract float Sum(TSelf v);

    /// <summary>v &amp; ~(v ≤ 0): positives and NaN kept, everything else +0 (the ReLU of Relu.Forward, bitwise).</summary>
    static abstract TSelf Relu(TSelf v);

    /// <summary>The lane-wise maximum, as the max-pool kernel takes it (NaN propagates; max(−0, +0) = +0).</summary>
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>p[0 .. 2·Count) → its even and its odd elements.</summary>
    static abstract void Deinterleave(float* p, out TSelf even, out TSelf odd);

    /// <summary>even, odd → p[0 .. 2·Count) = even0 odd0 even1 odd1 …</summary>
    static abstract void Interleave(TSelf even, TSelf odd, float* p);
}

internal readonly unsafe struct Vec512(Vector512<float> value) : IConvVector<Vec512>
{
    private readonly Vector512<float> _v = value;
    private static readonly Vector512<int> EvenIndices = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddIndices = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> LowIndices = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> HighIndices = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    public static int Count => 16;
    public static bool IsSupported => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vec512 v) => v._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Load(ref float p, nuint offset) => new(Vector512.LoadUnsafe(ref p, offset));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(ref float p, nuint offset, Vec512 v) => v._v.StoreUnsafe(ref p, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Broadcast(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 operator +(Vec512 a, Vec512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 operator -(Vec512 a, Vec512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 MultiplyAdd(Vec512 a, Vec512 b, Vec512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vec512 v) => Vector512.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Relu(Vec512 v) => new(Vector512.AndNot(v._v, Vector512.LessThanOrEqual(v._v, Vector512<float>.Zero)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Max(Vec512 a, Vec512 b) => new(Vector512.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(float* p, out Vec512 even, out Vec512 odd)
    {
        var lo = Vector512.Load(p);
        var hi = Vector512.Load(p + 16);
        even = new(Avx512F.PermuteVar16x32x2(lo, EvenIndices, hi));
        odd = new(Avx512F.PermuteVar16x32x2(lo, OddIndices, hi));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vec512 even, Vec512 odd, float* p)
    {
        Avx512F.PermuteVar16x32x2(even._v, LowIndices, odd._v).Store(p);
        Avx512F.PermuteVar16x32x2(even._v, HighIndices, odd._v).Store(p + 16);
    }
}

internal readonly unsafe struct Vec256(Vector256<float> value) : IConvVector<Vec256>
{
    private readonly Vector256<float> _v = value;

    public static int Count => 8;
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported && Vector256.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vec256 v) => v._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Load(ref float p, nuint offset) => new(Vector256.LoadUnsafe(ref p, offset));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(ref float p, nuint offset, Vec256 v) => v._v.StoreUnsafe(ref p, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Broadcast(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 operator +(Vec256 a, Vec256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 operator -(Vec256 a, Vec256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 MultiplyAdd(Vec256 a, Vec256 b, Vec256 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vec256 v) => Vector256.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Relu(Vec256 v) => new(Vector256.AndNot(v._v, Vector256.LessThanOrEqual(v._v, Vector256<float>.Zero)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Max(Vec256 a, Vec256 b) => new(Vector256.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(float* p, out Vec256 even, out Vec256 odd)
    {
        var lo = Vector256.Load(p);
        var hi = Vector256.Load(p + 8);
        // shufps works per 128-bit lane: [l0 l2 h0 h2 | l4 l6 h4 h6]; the 64-bit permute puts the halves in order.
        var e = Avx.Shuffle(lo, hi, 0b10_00_10_00);
        var o = Avx.Shuffle(lo, hi, 0b11_01_11_01);
        even = new(Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle());
        odd = new(Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vec256 even, Vec256 odd, float* p)
    {
        var lo = Avx.UnpackLow(even._v, odd._v);   // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(even._v, odd._v);  // e2 o2 e3 o3 | e6 o6 e7 o7
        Avx.Permute2x128(lo, hi, 0x20).Store(p);
        Avx.Permute2x128(lo, hi, 0x31).Store(p + 8);
    }
}

/// <summary>
/// 128-bit vectors: SSE on x64 (what runs where AVX2 is hidden or absent), NEON on ARM64. The even/odd shuffles are one
/// instruction each on both (shufps / unpcklps / unpckhps; uzp1 / uzp2 / zip1 / zip2).
/// </summary>
internal readonly unsafe struct Vec128(Vector128<float> value) : IConvVector<Vec128>
{
    private readonly Vector128<float> _v = value;

    public static int Count => 4;
    public static bool IsSupported => Vector128.IsHardwareAccelerated && (Sse.IsSupported || AdvSimd.Arm64.IsSupported);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Load(float* p) => new(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vec128 v) => v._v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Load(ref float p, nuint offset) => new(Vector128.LoadUnsafe(ref p, offset));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(ref float p, nuint offset, Vec128 v) => v._v.StoreUnsafe(ref p, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Broadcast(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 operator +(Vec128 a, Vec128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 operator -(Vec128 a, Vec128 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 MultiplyAdd(Vec128 a, Vec128 b, Vec128 c) => new(Vector128.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vec128 v) => Vector128.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Relu(Vec128 v) => new(Vector128.AndNot(v._v, Vector128.LessThanOrEqual(v._v, Vector128<float>.Zero)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Max(Vec128 a, Vec128 b) => new(Vector128.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(float* p, out Vec128 even, out Vec128 odd)
    {
        var lo = Vector128.Load(p);
        var hi = Vector128.Load(p + 4);
        if (Sse.IsSupported)
        {
            even = new(Sse.Shuffle(lo, hi, 0b10_00_10_00)); // l0 l2 h0 h2
            odd = new(Sse.Shuffle(lo, hi, 0b11_01_11_01));  // l1 l3 h1 h3
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            even = new(AdvSimd.Arm64.UnzipEven(lo, hi));
            odd = new(AdvSimd.Arm64.UnzipOdd(lo, hi));
        }
        else
        {
            even = new(Vector128.Create(p[0], p[2], p[4], p[6]));
            odd = new(Vector128.Create(p[1], p[3], p[5], p[7]));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vec128 even, Vec128 odd, float* p)
    {
        if (Sse.IsSupported)
        {
            Sse.UnpackLow(even._v, odd._v).Store(p);      // e0 o0 e1 o1
            Sse.UnpackHigh(even._v, odd._v).Store(p + 4); // e2 o2 e3 o3
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            AdvSimd.Arm64.ZipLow(even._v, odd._v).Store(p);
            AdvSimd.Arm64.ZipHigh(even._v, odd._v).Store(p + 4);
        }
        else
            for (int i = 0; i < 4; i++)
            {
                p[2 * i] = even._v.GetElement(i);
                p[2 * i + 1] = odd._v.GetElement(i);
            }
    }
}

internal readonly unsafe struct VecScalar(float value) : IConvVector<VecScalar>
{
    private readonly float _v = value;

    public static int Count => 1;
    public static bool IsSupported => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar Load(float* p) => new(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, VecScalar v) => *p = v._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar Load(ref float p, nuint offset) => new(Unsafe.Add(ref p, offset));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(ref float p, nuint offset, VecScalar v) => Unsafe.Add(ref p, offset) = v._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar Broadcast(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar operator +(VecScalar a, VecScalar b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar operator -(VecScalar a, VecScalar b) => new(a._v - b._v);
    // Fused where the hardware has FMA, as every vector width's lanes are there (Vector128's MultiplyAddEstimate; 256 and
    // 512 bits always have it), so a column's bits do not depend on whether it fell in a vector or in a scalar tail (a row
    // band of an image puts its columns elsewhere than the whole image does); without FMA, multiply then add, as Vector128.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar MultiplyAdd(VecScalar a, VecScalar b, VecScalar c) => new(float.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(VecScalar v) => v._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar Relu(VecScalar v) => new(v._v <= 0f ? 0f : v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static VecScalar Max(VecScalar a, VecScalar b) => new(MathF.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(float* p, out VecScalar even, out VecScalar odd)
    {
        even = new(p[0]);
        odd = new(p[1]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(VecScalar even, VecScalar odd, float* p)
    {
        p[0] = even._v;
        p[1] = odd._v;
    }
}
