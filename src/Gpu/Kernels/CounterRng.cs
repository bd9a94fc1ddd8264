namespace NativeConv.Gpu.Kernels;

/// <summary>
/// Counter-based random numbers: the value for element i is a pure function of (seed, i), so every backend — and every
/// thread order — draws the same dropout mask.
///
/// PLACEHOLDER: the CPU twin (src/Tensors/Backends/Cpu/Kernels/CounterRng.cs) is being written on another branch. Until
/// it lands this is SplitMix64's finaliser over seed + (i + 1)·golden-ratio, top 24 bits as a float in [0, 1). When the CPU
/// version lands, this function must become a bit-for-bit port of it (the backend suite compares the masks).
/// </summary>
public static class CounterRng
{
    /// <summary>A uniform float in [0, 1) with 24 random bits, for element <paramref name="index"/> of stream <paramref name="seed"/>.</summary>
    public static float Uniform(ulong seed, long index)
    {
        ulong z = seed + ((ulong)index + 1UL) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1.0f / 16777216.0f);
    }
}
