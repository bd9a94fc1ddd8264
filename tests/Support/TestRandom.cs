namespace NativeConv.Tests.Support;

/// <summary>Seeded random data for tests.</summary>
public static class TestRandom
{
    /// <summary>Uniform values in [lo, hi).</summary>
    public static float[] Uniform(int length, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return values;
    }

    /// <summary>Uniform values with |v| in [margin, 1]: kinks at zero (ReLU) stay farther than a finite-difference step.</summary>
    public static float[] AwayFromZero(int length, int seed, float margin = 0.05f)
    {
        var rng = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            float magnitude = margin + (float)rng.NextDouble() * (1f - margin);
            values[i] = rng.Next(2) == 0 ? magnitude : -magnitude;
        }
        return values;
    }

    /// <summary>
    /// A shuffled arithmetic sequence: every value distinct, neighbours at least <paramref name="gap"/> apart, so a max or a
    /// sort never flips under a finite-difference step smaller than gap/2 (max-pool gradient checks).
    /// </summary>
    public static float[] Distinct(int length, int seed, float gap = 0.05f)
    {
        var rng = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (i - length / 2) * gap;
        rng.Shuffle(values);
        return values;
    }

    /// <summary>Values that must be overwritten: NaN, so a kernel that forgets an element is caught.</summary>
    public static void Poison(Span<float> span) => span.Fill(float.NaN);
}
