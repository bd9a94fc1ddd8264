using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Inference;

/// <summary>
/// One layer of a forward-only network, as a backend compiles it into an <see cref="IInferenceProgram"/>: what the layer
/// computes and the tensors it reads, nothing about how. The model layer (NativeConv.Layers) describes its modules this
/// way; fusions a backend may exploit (ReLU, a following max-pool) are part of the description.
/// </summary>
public abstract record InferenceLayer
{
    /// <summary>The layer's name in messages and plan descriptions ("conv1").</summary>
    public string Name { get; init; } = "";
}

/// <summary>
/// Conv2D (weight (OC, C, KH, KW), bias (OC) or null) with stride and padding, then ReLU when <paramref name="Relu"/>,
/// then a max-pool when <paramref name="Pool"/> is given: input (N, C, H, W) → (N, OC, OH, OW), pooled when asked.
/// </summary>
public sealed record ConvInference(Tensor Weight, Tensor? Bias, int Stride, Padding Padding, bool Relu, MaxPoolInference? Pool)
    : InferenceLayer;

/// <summary>Dense: x (N, in) · weight (in, out) + bias (out), then ReLU when <paramref name="Relu"/>.</summary>
public sealed record DenseInference(Tensor Weight, Tensor? Bias, bool Relu) : InferenceLayer;

/// <summary>Max-pool with a square window and stride, no padding (Keras "valid"): (N, C, H, W) → (N, C, OH, OW).</summary>
public sealed record MaxPoolInference(int Size, int Stride) : InferenceLayer;

/// <summary>ReLU on its own (one that does not follow a convolution or a Dense).</summary>
public sealed record ReluInference : InferenceLayer;

/// <summary>Global average pooling: (N, C, H, W) → (N, C).</summary>
public sealed record GlobalAvgPoolInference : InferenceLayer;

/// <summary>Flatten: (N, …) → (N, product of the rest); the same values in the same order.</summary>
public sealed record FlattenInference : InferenceLayer;
