namespace NativeConv.Layers.Init;

/// <summary>
/// Seed arithmetic with fixed, platform-independent results (SplitMix64 finaliser and FNV-1a), so a seed means the same
/// weights and dropout masks on every machine and .NET version — unlike string.GetHashCode, which is randomised per process.
/// </summary>
public static class SeedMixer
{
    /// <summary>A well-mixed 64-bit value from two inputs (SplitMix64 finaliser of a combination).</summary>
    public static ulong Mix(ulong a, ulong b) => Finalise(a * 0x9E3779B97F4A7C15UL + Finalise(b + 0x632BE59BD9B4E019UL));

    /// <summary>The SplitMix64 output function: a bijection that scrambles every input bit into every output bit.</summary>
    public static ulong Finalise(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>FNV-1a over the UTF-16 code units of <paramref name="text"/>: a stable hash of a parameter name.</summary>
    public static ulong Hash(string text)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char c in text)
        {
            h ^= c;
            h *= 0x100000001B3UL;
        }
        return h;
    }
}

/// <summary>A SplitMix64 stream: fast, seedable, and identical everywhere. Enough for initialisation and synthetic data.</summary>
public struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return SeedMixer.Finalise(_state);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits: every value is exactly representable as a float.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [lo, hi).</summary>
    public float NextFloat(float lo, float hi) => lo + (hi - lo) * NextFloat();

    /// <summary>Uniform integer in [0, count).</summary>
    public int NextInt(int count) => (int)((NextUInt64() >> 32) * (ulong)count >> 32);
}
