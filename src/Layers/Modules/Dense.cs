using NativeConv.Tensors;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>Fully connected layer: y = x·W + b with x (N, in), W (in, out) as Keras stores it, b (out) → y (N, out).</summary>
public sealed class Dense : Module
{
    public Dense(int inFeatures, int outFeatures, bool useBias = true) : base("dense")
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new ArgumentException($"Dense: feature counts must be >= 1; got in = {inFeatures}, out = {outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = AddParameter("weight", new Shape(inFeatures, outFeatures), ParameterRole.Weight, inFeatures, outFeatures);
        Bias = useBias ? AddParameter("bias", new Shape(outFeatures), ParameterRole.Bias) : null;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Tensor Forward(Tensor x)
    {
        CheckInput(x.Shape);
        var y = Op.MatMul(x, Weight.Value);
        return Bias is null ? y : Op.AddBias(y, Bias.Value);
    }

    public override Shape OutputShape(Shape input)
    {
        CheckInput(input);
        return new Shape(input[0], OutFeatures);
    }

    private void CheckInput(Shape input)
    {
        if (input.Rank != 2 || input[1] != InFeatures)
            throw new ArgumentException($"Dense '{Name}': expects input (N, {InFeatures}); got {input}. Put a Flatten before a Dense that follows image layers, and match in-features to the previous layer's output.");
    }
}
