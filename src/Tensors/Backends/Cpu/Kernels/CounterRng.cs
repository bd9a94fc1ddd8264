using System.Runtime.CompilerServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// A counter-based random number generator: the draw for element i is a pure function of (seed, i), so any thread — or a
/// GPU thread — computes the same number for the same element with no shared state. Built from the SplitMix64 finaliser
/// (Steele, Lea, Flood 2014; constants from Stafford's "Mix13"): plain 64-bit shifts, xors and multiplies that every
/// backend can reproduce exactly. The GPU backend ports these three functions verbatim.
///
///   key      = Mix(seed)                                  (once per call: decorrelates nearby seeds)
///   bits(i)  = Mix(key + (i + 1) · 0x9E3779B97F4A7C15)    (Weyl sequence on the counter, then the finaliser)
///   u(i)     = (bits(i) &gt;&gt; 40) · 2⁻²⁴                   (top 24 bits: exactly representable, in [0, 1))
/// </summary>
public static class CounterRng
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>The SplitMix64 finaliser: a bijection on 64 bits with full avalanche.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The per-call key derived from a user seed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Key(ulong seed) => Mix(seed);

    /// <summary>24 uniformly distributed bits for element <paramref name="index"/> under <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits24(ulong key, long index) => (uint)(Mix(key + ((ulong)index + 1UL) * Golden) >> 40);

    /// <summary>A uniform float in [0, 1) for element <paramref name="index"/>: a multiple of 2⁻²⁴, so exact in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform(ulong key, long index) => Bits24(key, index) * (1f / 16777216f);
}
