using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>y = max(x, 0), any shape. Backward: dx += dy where y &gt; 0 (ReLU'(0) = 0, as in every framework).</summary>
    public static Tensor Relu(Tensor x)
    {
        var tape = Tape.Current;
        var y = tape.NewTemporary(x.Shape, x.Backend);
        x.Backend.ReluForward(x, y);
        if (tape.NeedsGrad(x))
        {
            var node = ReluNode.Rent();
            node.Input = x;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private sealed class ReluNode : TapeNode<ReluNode>
    {
        public Tensor Input = null!;

        protected internal override void Backward(Tape tape)
        {
            if (Input.RequiresGrad)
                Input.Backend.ReluBackward(Output, Output.Grad!, tape.GradOf(Input));
        }

        protected override void Clear() => Input = null!;
    }
}
