namespace NativeConv.Gpu.Kernels;

/// <summary>
/// Device port, verbatim, of the CPU's counter-based generator (src/Tensors/Backends/Cpu/Kernels/CounterRng.cs): the draw for
/// element i is a pure function of (seed, i), so the GPU's dropout mask is bit-for-bit the CPU's. SplitMix64 finaliser:
///   key = Mix(seed) (computed once per call on the host);  bits(i) = Mix(key + (i + 1)·0x9E3779B97F4A7C15);
///   u(i) = (bits(i) &gt;&gt; 40)·2⁻²⁴ — 24 bits, exact in float32, in [0, 1).
/// Kept as a separate copy (not a call into NativeConv.Tensors) so ILGPU compiles only code it owns; the backend suite
/// compares the two on every run.
/// </summary>
public static class CounterRng
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>The SplitMix64 finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The per-call key derived from a user seed.</summary>
    public static ulong Key(ulong seed) => Mix(seed);

    /// <summary>24 uniformly distributed bits for element <paramref name="index"/> under <paramref name="key"/>.</summary>
    public static uint Bits24(ulong key, long index) => (uint)(Mix(key + ((ulong)index + 1UL) * Golden) >> 40);

    /// <summary>A uniform float in [0, 1) for element <paramref name="index"/>.</summary>
    public static float Uniform(ulong key, long index) => Bits24(key, index) * (1f / 16777216f);
}
