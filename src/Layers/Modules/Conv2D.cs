using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>
/// 2-D convolution (cross-correlation) with bias: x (N, C, H, W), weight (OC, C, KH, KW), bias (OC) → (N, OC, OH, OW).
/// Square kernel and stride; padding "same" by default, as the studies' Keras models.
/// </summary>
public sealed class Conv2D : Module
{
    public Conv2D(int inChannels, int outChannels, int kernel, int stride = 1, Padding? padding = null, bool useBias = true)
        : base("conv")
    {
        if (inChannels < 1 || outChannels < 1)
            throw new ArgumentException($"Conv2D: channel counts must be >= 1; got in = {inChannels}, out = {outChannels}.");
        if (kernel < 1 || stride < 1)
            throw new ArgumentException($"Conv2D: kernel ({kernel}) and stride ({stride}) must be >= 1.");
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Stride = stride;
        Padding = padding ?? Padding.Same; // nullable because a Padding cannot be a default parameter value
        if (Padding.Mode == PaddingMode.Explicit && (Padding.Height < 0 || Padding.Width < 0))
            throw new ArgumentException($"Conv2D: padding {Padding} must not be negative.");
        int receptive = kernel * kernel;
        Weight = AddParameter("weight", new Shape(outChannels, inChannels, kernel, kernel), ParameterRole.Weight,
            fanIn: inChannels * receptive, fanOut: outChannels * receptive);
        Bias = useBias ? AddParameter("bias", new Shape(outChannels), ParameterRole.Bias) : null;
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public Padding Padding { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Tensor Forward(Tensor x) => Op.Conv2D(x, Weight.Value, Bias?.Value, Stride, Padding);

    /// <summary>Forward followed by ReLU as one fused op (what <see cref="Sequential"/> runs for a Conv2D then a ReLU).</summary>
    internal Tensor ForwardRelu(Tensor x) => Op.Conv2DRelu(x, Weight.Value, Bias?.Value, Stride, Padding);

    public override Shape OutputShape(Shape input)
    {
        var g = ConvGeometry.Create(input, Weight.Shape, Stride, Stride, Padding, $"Conv2D '{Name}'");
        return g.OutputShape;
    }
}
