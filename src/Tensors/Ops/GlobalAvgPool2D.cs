using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>x (N, C, H, W) → (N, C): the mean of each channel plane. Backward: dx += dy / (H·W) over the plane.</summary>
    public static Tensor GlobalAvgPool2D(Tensor x)
    {
        const string op = "GlobalAvgPool2D";
        OpChecks.Rank(op, "x", x, 4, "(N, C, H, W)");
        OpChecks.NonEmptyBatch(op, x);
        if (x.Shape[2] == 0 || x.Shape[3] == 0)
            throw new ArgumentException($"{op}: x {x.Describe()} has an empty plane; there is nothing to average (check the layers before it).");

        var tape = Tape.Current;
        var y = tape.NewTemporary(new Shape(x.Shape[0], x.Shape[1]), x.Backend);
        x.Backend.GlobalAvgPoolForward(x, y);
        if (tape.NeedsGrad(x))
        {
            var node = GlobalAvgPoolNode.Rent();
            node.Input = x;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private sealed class GlobalAvgPoolNode : TapeNode<GlobalAvgPoolNode>
    {
        public Tensor Input = null!;

        protected internal override void Backward(Tape tape)
        {
            if (Input.RequiresGrad)
                Input.Backend.GlobalAvgPoolBackward(Output.Grad!, tape.GradOf(Input));
        }

        protected override void Clear() => Input = null!;
    }
}
