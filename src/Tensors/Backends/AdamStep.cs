namespace NativeConv.Tensors.Backends;

/// <summary>
/// One Adam update's scalars, in the Keras form the studies used:
///   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
///   p ← p − α·m / (√v + ε),  α = lr·√(1−β2^t) / (1−β1^t).
/// (ε is added to √v before bias correction, as Keras does; PyTorch adds it after. With ε = 1e-7 the two
/// differ only while √v is tiny.)
/// </summary>
public readonly record struct AdamStep(float LearningRate, float Beta1, float Beta2, float Epsilon, long Step)
{
    /// <summary>The bias-corrected step size α for step t (t counts from 1).</summary>
    public float CorrectedLearningRate =>
        (float)(LearningRate * Math.Sqrt(1.0 - Math.Pow(Beta2, Step)) / (1.0 - Math.Pow(Beta1, Step)));
}
