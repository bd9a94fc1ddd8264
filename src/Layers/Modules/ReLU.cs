using NativeConv.Tensors;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>y = max(x, 0), any shape.</summary>
public sealed class ReLU : Module
{
    public ReLU() : base("relu") { }

    public override Tensor Forward(Tensor x) => Op.Relu(x);

    public override Shape OutputShape(Shape input) => input;
}
