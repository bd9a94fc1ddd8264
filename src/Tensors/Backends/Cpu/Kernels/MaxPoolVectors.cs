using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>Work written once over the pool's vector width; <see cref="PoolVectors.Run"/> picks the struct.</summary>
internal interface IPoolVectorStep
{
    void Run<TVec>() where TVec : struct, IPoolVector<TVec>;
}

internal static class PoolVectors
{
    /// <summary>The one place a resolved width becomes the pool's vector struct (one JIT copy of the step per struct).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TStep>(VectorWidth width, scoped ref TStep step) where TStep : IPoolVectorStep, allows ref struct
    {
        switch (width)
        {
            case VectorWidth.Vector512: step.Run<PoolVec512>(); break;
            case VectorWidth.Vector256: step.Run<PoolVec256>(); break;
            case VectorWidth.Vector128: step.Run<PoolVec128>(); break;
            case VectorWidth.Scalar: step.Run<PoolVecScalar>(); break;
            default: throw new ArgumentException($"PoolVectors.Run: resolve {width} first.");
        }
    }
}

/// <summary>
/// The vector operations <see cref="MaxPoolKernel"/> needs, over one width (the JIT specialises the kernel per struct).
/// Masks are all-ones / all-zeros lanes held as floats, so a gradient is routed with a plain AND (+0 where not chosen).
/// </summary>
internal unsafe interface IPoolVector<TSelf> where TSelf : struct, IPoolVector<TSelf>
{
    static abstract int Count { get; }
    static abstract bool IsSupported { get; }

    /// <summary>Whether <see cref="LoadFirst"/>/<see cref="StoreFirst"/> are hardware masked (else a row's last windows go one at a time).</summary>
    static abstract bool HasMaskedAccess { get; }

    static abstract TSelf Zero { get; }
    static abstract TSelf Load(float* p);
    static abstract void Store(float* p, TSelf value);

    /// <summary>The first <paramref name="lanes"/> floats (any int; ≤ 0: none), the other lanes 0; memory past them is never read.</summary>
    static abstract TSelf LoadFirst(float* p, int lanes);

    /// <summary>Stores the first <paramref name="lanes"/> lanes only; memory past them is never written.</summary>
    static abstract void StoreFirst(float* p, TSelf value, int lanes);

    /// <summary>IEEE 754-2019 maximum: NaN if either is NaN, +0 above −0.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>(low, high) = 2·Count consecutive floats → lane i = Max(float 2i, float 2i + 1).</summary>
    static abstract TSelf MaxOfPairs(TSelf low, TSelf high);

    /// <summary>All-ones lanes where v == m (−0 == +0) or v is NaN, else zeros.</summary>
    static abstract TSelf Matches(TSelf v, TSelf m);

    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator &(TSelf a, TSelf b);
    static abstract TSelf operator |(TSelf a, TSelf b);

    /// <summary>a &amp; ~b.</summary>
    static abstract TSelf AndNot(TSelf a, TSelf b);

    /// <summary>(low, high) = 2·Count consecutive floats → their even and their odd elements.</summary>
    static abstract void Deinterleave(TSelf low, TSelf high, out TSelf even, out TSelf odd);

    /// <summary>even, odd → (low, high) = even0 odd0 even1 odd1 …</summary>
    static abstract void Interleave(TSelf even, TSelf odd, out TSelf low, out TSelf high);

    /// <summary>
    /// All-ones lanes where v replaces best in a row-major scan that keeps the first NaN, else the first maximum: best is not
    /// NaN, and v &gt; best or v is NaN (equal values, −0 == +0 included, keep the earlier one).
    /// </summary>
    static abstract TSelf Beats(TSelf v, TSelf best);

    /// <summary>mask ? a : b, bit by bit (mask lanes all-ones or all-zeros).</summary>
    static abstract TSelf Select(TSelf mask, TSelf a, TSelf b);

    /// <summary>Every lane = <paramref name="value"/> (also used for int bit patterns: window offsets).</summary>
    static abstract TSelf Broadcast(float value);

    /// <summary>Lane l = the int bits of min(l, lanes − 1)·stride: a gather's offsets that never pass the block's last window.</summary>
    static abstract TSelf StridedOffsets(int stride, int lanes);

    /// <summary>Lane l = p[offsets_l] (offsets held as int bits, as <see cref="StridedOffsets"/> makes them).</summary>
    static abstract TSelf Gather(float* p, TSelf offsets);
}

internal readonly unsafe struct PoolVec512(Vector512<float> value) : IPoolVector<PoolVec512>
{
    private readonly Vector512<float> _v = value;

    // Lane indices for vpermt2ps over (a, b) = 32 consecutive floats. Fields, not `=> Vector512.Create(...)` properties: as
    // properties the JIT ran out of inlining budget in the backward and called the getters on every row (2.5× slower).
    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> InterleaveLow = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> InterleaveHigh = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    public static int Count => 16;
    public static bool IsSupported => Avx512F.IsSupported;
    public static bool HasMaskedAccess => true;

    public static PoolVec512 Zero => new(Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, PoolVec512 value) => value._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FirstLanesMask(int lanes) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(lanes)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 LoadFirst(float* p, int lanes) => new(Avx512F.MaskLoad(p, FirstLanesMask(lanes), Vector512<float>.Zero));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(float* p, PoolVec512 value, int lanes) => Avx512F.MaskStore(p, FirstLanesMask(lanes), value._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 Max(PoolVec512 a, PoolVec512 b) => new(Vector512.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 MaxOfPairs(PoolVec512 low, PoolVec512 high) =>
        new(Vector512.Max(Avx512F.PermuteVar16x32x2(low._v, EvenLanes, high._v), Avx512F.PermuteVar16x32x2(low._v, OddLanes, high._v)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 Matches(PoolVec512 v, PoolVec512 m) => new(Vector512.Equals(v._v, m._v) | ~Vector512.Equals(v._v, v._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 operator +(PoolVec512 a, PoolVec512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 operator &(PoolVec512 a, PoolVec512 b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 operator |(PoolVec512 a, PoolVec512 b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 AndNot(PoolVec512 a, PoolVec512 b) => new(Vector512.AndNot(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(PoolVec512 low, PoolVec512 high, out PoolVec512 even, out PoolVec512 odd)
    {
        even = new(Avx512F.PermuteVar16x32x2(low._v, EvenLanes, high._v));
        odd = new(Avx512F.PermuteVar16x32x2(low._v, OddLanes, high._v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(PoolVec512 even, PoolVec512 odd, out PoolVec512 low, out PoolVec512 high)
    {
        low = new(Avx512F.PermuteVar16x32x2(even._v, InterleaveLow, odd._v));
        high = new(Avx512F.PermuteVar16x32x2(even._v, InterleaveHigh, odd._v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 Beats(PoolVec512 v, PoolVec512 best) => new(Vector512.AndNot(Vector512.Equals(best._v, best._v), Vector512.LessThanOrEqual(v._v, best._v)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 Select(PoolVec512 mask, PoolVec512 a, PoolVec512 b) => new(Vector512.ConditionalSelect(mask._v, a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec512 Broadcast(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 StridedOffsets(int stride, int lanes) =>
        new((Vector512.Min(Vector512<int>.Indices, Vector512.Create(lanes - 1)) * stride).AsSingle());

    // .NET 10 has no 512-bit gather: two 256-bit ones (every AVX-512 CPU has AVX2).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec512 Gather(float* p, PoolVec512 offsets)
    {
        var index = offsets._v.AsInt32();
        return new(Vector512.Create(Avx2.GatherVector256(p, index.GetLower(), 4), Avx2.GatherVector256(p, index.GetUpper(), 4)));
    }
}

internal readonly unsafe struct PoolVec256(Vector256<float> value) : IPoolVector<PoolVec256>
{
    private readonly Vector256<float> _v = value;

    public static int Count => 8;
    public static bool IsSupported => Avx2.IsSupported;
    public static bool HasMaskedAccess => true; // vmaskmovps (AVX), present wherever AVX2 is

    public static PoolVec256 Zero => new(Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, PoolVec256 value) => value._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> FirstLanesMask(int lanes) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(lanes)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 LoadFirst(float* p, int lanes) => new(Avx.MaskLoad(p, FirstLanesMask(lanes)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(float* p, PoolVec256 value, int lanes) => Avx.MaskStore(p, FirstLanesMask(lanes), value._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 Max(PoolVec256 a, PoolVec256 b) => new(Vector256.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 MaxOfPairs(PoolVec256 low, PoolVec256 high)
    {
        // Per 128-bit lane: [l0 l2 h0 h2 | l4 l6 h4 h6] and the odd columns; max first, then one 64-bit permute puts them in order.
        var pairMax = Vector256.Max(Avx.Shuffle(low._v, high._v, 0b10_00_10_00), Avx.Shuffle(low._v, high._v, 0b11_01_11_01));
        return new(Avx2.Permute4x64(pairMax.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 Matches(PoolVec256 v, PoolVec256 m) => new(Vector256.Equals(v._v, m._v) | ~Vector256.Equals(v._v, v._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 operator +(PoolVec256 a, PoolVec256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 operator &(PoolVec256 a, PoolVec256 b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 operator |(PoolVec256 a, PoolVec256 b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 AndNot(PoolVec256 a, PoolVec256 b) => new(Vector256.AndNot(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(PoolVec256 low, PoolVec256 high, out PoolVec256 even, out PoolVec256 odd)
    {
        var e = Avx.Shuffle(low._v, high._v, 0b10_00_10_00);
        var o = Avx.Shuffle(low._v, high._v, 0b11_01_11_01);
        even = new(Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle());
        odd = new(Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(PoolVec256 even, PoolVec256 odd, out PoolVec256 low, out PoolVec256 high)
    {
        var l = Avx.UnpackLow(even._v, odd._v);   // e0 o0 e1 o1 | e4 o4 e5 o5
        var h = Avx.UnpackHigh(even._v, odd._v);  // e2 o2 e3 o3 | e6 o6 e7 o7
        low = new(Avx.Permute2x128(l, h, 0x20));
        high = new(Avx.Permute2x128(l, h, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 Beats(PoolVec256 v, PoolVec256 best) => new(Vector256.AndNot(Vector256.Equals(best._v, best._v), Vector256.LessThanOrEqual(v._v, best._v)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 Select(PoolVec256 mask, PoolVec256 a, PoolVec256 b) => new(Vector256.ConditionalSelect(mask._v, a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec256 Broadcast(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 StridedOffsets(int stride, int lanes) =>
        new((Vector256.Min(Vector256<int>.Indices, Vector256.Create(lanes - 1)) * stride).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec256 Gather(float* p, PoolVec256 offsets) => new(Avx2.GatherVector256(p, offsets._v.AsInt32(), 4));
}

/// <summary>128 bits: SSE on x64 (masked tails where AVX is present), NEON on ARM64 (tails one window at a time).</summary>
internal readonly unsafe struct PoolVec128(Vector128<float> value) : IPoolVector<PoolVec128>
{
    private readonly Vector128<float> _v = value;

    public static int Count => 4;
    public static bool IsSupported => Sse.IsSupported || AdvSimd.Arm64.IsSupported;
    public static bool HasMaskedAccess => Avx.IsSupported;

    public static PoolVec128 Zero => new(Vector128<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 Load(float* p) => new(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, PoolVec128 value) => value._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> FirstLanesMask(int lanes) => Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(lanes)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 LoadFirst(float* p, int lanes)
    {
        if (Avx.IsSupported) return new(Avx.MaskLoad(p, FirstLanesMask(lanes)));
        var v = Vector128<float>.Zero;
        for (int i = 0; i < Math.Min(lanes, 4); i++) v = v.WithElement(i, p[i]);
        return new(v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(float* p, PoolVec128 value, int lanes)
    {
        if (Avx.IsSupported) { Avx.MaskStore(p, FirstLanesMask(lanes), value._v); return; }
        for (int i = 0; i < Math.Min(lanes, 4); i++) p[i] = value._v.GetElement(i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 Max(PoolVec128 a, PoolVec128 b) => new(Vector128.Max(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 MaxOfPairs(PoolVec128 low, PoolVec128 high)
    {
        // fmaxp: the IEEE maximum of adjacent pairs, NaN and ±0 as Vector128.Max.
        if (AdvSimd.Arm64.IsSupported) return new(AdvSimd.Arm64.MaxPairwise(low._v, high._v));
        Deinterleave(low, high, out var even, out var odd);
        return Max(even, odd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 Matches(PoolVec128 v, PoolVec128 m) => new(Vector128.Equals(v._v, m._v) | ~Vector128.Equals(v._v, v._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 operator +(PoolVec128 a, PoolVec128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 operator &(PoolVec128 a, PoolVec128 b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 operator |(PoolVec128 a, PoolVec128 b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 AndNot(PoolVec128 a, PoolVec128 b) => new(Vector128.AndNot(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(PoolVec128 low, PoolVec128 high, out PoolVec128 even, out PoolVec128 odd)
    {
        if (AdvSimd.Arm64.IsSupported)
        {
            even = new(AdvSimd.Arm64.UnzipEven(low._v, high._v));
            odd = new(AdvSimd.Arm64.UnzipOdd(low._v, high._v));
        }
        else if (Sse.IsSupported)
        {
            even = new(Sse.Shuffle(low._v, high._v, 0b10_00_10_00)); // l0 l2 h0 h2
            odd = new(Sse.Shuffle(low._v, high._v, 0b11_01_11_01));  // l1 l3 h1 h3
        }
        else
        {
            even = new(Vector128.Create(low._v[0], low._v[2], high._v[0], high._v[2]));
            odd = new(Vector128.Create(low._v[1], low._v[3], high._v[1], high._v[3]));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(PoolVec128 even, PoolVec128 odd, out PoolVec128 low, out PoolVec128 high)
    {
        if (AdvSimd.Arm64.IsSupported)
        {
            low = new(AdvSimd.Arm64.ZipLow(even._v, odd._v));
            high = new(AdvSimd.Arm64.ZipHigh(even._v, odd._v));
        }
        else if (Sse.IsSupported)
        {
            low = new(Sse.UnpackLow(even._v, odd._v));   // e0 o0 e1 o1
            high = new(Sse.UnpackHigh(even._v, odd._v)); // e2 o2 e3 o3
        }
        else
        {
            low = new(Vector128.Create(even._v[0], odd._v[0], even._v[1], odd._v[1]));
            high = new(Vector128.Create(even._v[2], odd._v[2], even._v[3], odd._v[3]));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 Beats(PoolVec128 v, PoolVec128 best) => new(Vector128.AndNot(Vector128.Equals(best._v, best._v), Vector128.LessThanOrEqual(v._v, best._v)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 Select(PoolVec128 mask, PoolVec128 a, PoolVec128 b) => new(Vector128.ConditionalSelect(mask._v, a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVec128 Broadcast(float value) => new(Vector128.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 StridedOffsets(int stride, int lanes) =>
        new((Vector128.Min(Vector128<int>.Indices, Vector128.Create(lanes - 1)) * stride).AsSingle());

    // vgatherdps where AVX2 is; else (NEON, SSE without AVX2) four loads.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVec128 Gather(float* p, PoolVec128 offsets)
    {
        var index = offsets._v.AsInt32();
        if (Avx2.IsSupported) return new(Avx2.GatherVector128(p, index, 4));
        return new(Vector128.Create(p[index.GetElement(0)], p[index.GetElement(1)], p[index.GetElement(2)], p[index.GetElement(3)]));
    }
}

/// <summary>One float: the same kernel source with a single lane (no SIMD), and every other width's one-window tail.</summary>
internal readonly unsafe struct PoolVecScalar(float value) : IPoolVector<PoolVecScalar>
{
    private readonly float _v = value;

    private static float FromBits(int bits) => BitConverter.Int32BitsToSingle(bits);
    private static int Bits(float v) => BitConverter.SingleToInt32Bits(v);

    public static int Count => 1;
    public static bool IsSupported => true;
    public static bool HasMaskedAccess => false;

    public static PoolVecScalar Zero => new(0f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar Load(float* p) => new(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, PoolVecScalar value) => *p = value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar LoadFirst(float* p, int lanes) => new(lanes > 0 ? *p : 0f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(float* p, PoolVecScalar value, int lanes)
    {
        if (lanes > 0) *p = value._v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar Max(PoolVecScalar a, PoolVecScalar b) => new(MathF.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar MaxOfPairs(PoolVecScalar low, PoolVecScalar high) => Max(low, high);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVecScalar Matches(PoolVecScalar v, PoolVecScalar m) => new(FromBits(v._v == m._v || float.IsNaN(v._v) ? -1 : 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar operator +(PoolVecScalar a, PoolVecScalar b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar operator &(PoolVecScalar a, PoolVecScalar b) => new(FromBits(Bits(a._v) & Bits(b._v)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar operator |(PoolVecScalar a, PoolVecScalar b) => new(FromBits(Bits(a._v) | Bits(b._v)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar AndNot(PoolVecScalar a, PoolVecScalar b) => new(FromBits(Bits(a._v) & ~Bits(b._v)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(PoolVecScalar low, PoolVecScalar high, out PoolVecScalar even, out PoolVecScalar odd)
    {
        even = low;
        odd = high;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(PoolVecScalar even, PoolVecScalar odd, out PoolVecScalar low, out PoolVecScalar high)
    {
        low = even;
        high = odd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVecScalar Beats(PoolVecScalar v, PoolVecScalar best) => new(FromBits(!(v._v <= best._v) && !float.IsNaN(best._v) ? -1 : 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PoolVecScalar Select(PoolVecScalar mask, PoolVecScalar a, PoolVecScalar b) => Bits(mask._v) != 0 ? a : b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar Broadcast(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar StridedOffsets(int stride, int lanes) => new(FromBits(0));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static PoolVecScalar Gather(float* p, PoolVecScalar offsets) => new(p[Bits(offsets._v)]);
}
