using NativeConv.Tensors;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>
/// Inverted dropout in training (zero with probability <see cref="Rate"/>, scale the rest by 1/(1−rate)); the identity in
/// eval mode. Every training call draws a fresh mask from a seed derived from the layer's seed and a call counter, so a run
/// is reproducible from its seed, and restoring <see cref="CallCount"/> resumes the exact sequence of masks.
/// </summary>
public sealed class Dropout : Module
{
    public Dropout(float rate, ulong seed = 0) : base("dropout")
    {
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentException($"Dropout: rate must be in [0, 1); got {rate}.");
        Rate = rate;
        Seed = seed;
    }

    public float Rate { get; }

    /// <summary>The base seed; the mask of call k uses Mix(Seed, k).</summary>
    public ulong Seed { get; set; }

    /// <summary>Training calls made so far (part of the training state a checkpoint keeps).</summary>
    public long CallCount { get; set; }

    public override Tensor Forward(Tensor x)
    {
        if (!IsTraining || Rate == 0f) return x;
        ulong callSeed = Init.SeedMixer.Mix(Seed, (ulong)CallCount);
        CallCount++;
        return Op.Dropout(x, Rate, training: true, callSeed);
    }

    public override Shape OutputShape(Shape input) => input;
}
