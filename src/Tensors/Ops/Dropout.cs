using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>
    /// Inverted dropout, any shape: in training each element is zeroed with probability rate and the rest scaled by 1/(1−rate);
    /// identity (the same tensor, nothing recorded) when not training or when rate is 0. The mask is a pure function of
    /// (seed, element index), so a step is reproducible. The caller passes a fresh seed per step AND per dropout layer: two calls
    /// with one seed draw the same mask over their common index range. Backward: dx += dy · mask (the mask is a tape temporary).
    /// </summary>
    public static Tensor Dropout(Tensor x, float rate, bool training, ulong seed)
    {
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), rate, $"Dropout: rate must be in [0, 1) (the fraction of {x.Describe()} to drop); got {rate}.");
        if (!training || rate == 0f) return x;

        var tape = Tape.Current;
        var y = tape.NewTemporary(x.Shape, x.Backend);
        var mask = tape.NewTemporary(x.Shape, x.Backend);
        x.Backend.DropoutForward(x, y, mask, rate, seed);
        if (tape.NeedsGrad(x))
        {
            var node = DropoutNode.Rent();
            node.Input = x;
            node.Mask = mask;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private sealed class DropoutNode : TapeNode<DropoutNode>
    {
        public Tensor Input = null!, Mask = null!;

        protected internal override void Backward(Tape tape)
        {
            if (Input.RequiresGrad)
                Input.Backend.DropoutBackward(Output.Grad!, Mask, tape.GradOf(Input));
        }

        protected override void Clear() { Input = null!; Mask = null!; }
    }
}
