namespace NativeConv.Layers.Init;

/// <summary>
/// Glorot (Xavier) uniform initialisation, the Keras default: W ~ U(−limit, limit) with limit = √(6 / (fan_in + fan_out)),
/// where Dense (in, out) has fan_in = in, fan_out = out and Conv2D (OC, C, KH, KW) has fan_in = C·KH·KW,
/// fan_out = OC·KH·KW. Biases start at zero.
///
/// Seeding: one model seed gives every parameter its own stream, seeded from (model seed, parameter name), so adding a
/// layer elsewhere does not change the others' initial values, and the result is the same on every machine.
/// </summary>
public static class Glorot
{
    /// <summary>The bound of the uniform distribution for the given fans.</summary>
    public static float Limit(int fanIn, int fanOut)
    {
        if (fanIn + fanOut <= 0)
            throw new ArgumentException($"Glorot: fan_in + fan_out must be positive; got {fanIn} + {fanOut}.");
        return (float)Math.Sqrt(6.0 / (fanIn + fanOut));
    }

    /// <summary>Re-draws every parameter of <paramref name="model"/>: weights Glorot uniform, biases zero.</summary>
    public static void Initialize(Module model, int seed)
    {
        foreach (var p in model.Parameters()) Initialize(p, seed);
    }

    /// <summary>Re-draws one parameter from the stream of (seed, its full name).</summary>
    public static void Initialize(Parameter p, int seed)
    {
        if (p.Role == ParameterRole.Bias)
        {
            p.Value.Backend.Fill(p.Value, 0f);
            return;
        }
        var values = new float[p.Shape.Size];
        Fill(values, p.FanIn, p.FanOut, StreamSeed(seed, p.Name));
        p.Value.CopyFrom(values);
    }

    /// <summary>Fills <paramref name="values"/> with U(−limit, limit) from a SplitMix64 stream.</summary>
    public static void Fill(Span<float> values, int fanIn, int fanOut, ulong streamSeed)
    {
        float limit = Limit(fanIn, fanOut);
        var rng = new SplitMix64(streamSeed);
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextFloat(-limit, limit);
    }

    /// <summary>The stream seed of a parameter: a mix of the model seed and a stable hash of its name.</summary>
    public static ulong StreamSeed(int seed, string parameterName) =>
        SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash(parameterName));
}
