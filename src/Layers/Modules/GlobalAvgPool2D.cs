using NativeConv.Tensors;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>The mean of each channel plane: (N, C, H, W) → (N, C).</summary>
public sealed class GlobalAvgPool2D : Module
{
    public GlobalAvgPool2D() : base("gap") { }

    public override Tensor Forward(Tensor x) => Op.GlobalAvgPool2D(x);

    public override Shape OutputShape(Shape input)
    {
        RequireRank(input, 4, "(N, C, H, W)");
        return new Shape(input[0], input[1]);
    }
}
