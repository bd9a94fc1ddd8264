using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>
    /// y = x + bias on axis 1: x (N, F) with bias (F), or x (N, C, H, W) with bias (C).
    /// Backward: dx += dy;  dBias += Σ dy over every axis but 1.
    /// </summary>
    public static Tensor AddBias(Tensor x, Tensor bias)
    {
        const string op = "AddBias";
        if (x.Shape.Rank != 2 && x.Shape.Rank != 4)
            throw new ArgumentException($"{op}: x must be (N, F) or (N, C, H, W); got {x.Describe()}.");
        OpChecks.Rank(op, "bias", bias, 1, "(F) or (C)");
        if (bias.Shape[0] != x.Shape[1])
            throw new ArgumentException($"{op}: bias {bias.Describe()} has {bias.Shape[0]} entries but x {x.Describe()} has {x.Shape[1]} on axis 1 (features or channels); give the bias one entry per feature/channel.");
        OpChecks.SameBackend(op, x, bias);

        var tape = Tape.Current;
        var y = tape.NewTemporary(x.Shape, x.Backend);
        x.Backend.AddBias(x, bias, y);
        if (tape.NeedsGrad(x, bias))
        {
            var node = AddBiasNode.Rent();
            node.Input = x;
            node.Bias = bias;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private sealed class AddBiasNode : TapeNode<AddBiasNode>
    {
        public Tensor Input = null!, Bias = null!;

        protected internal override void Backward(Tape tape)
        {
            var dy = Output.Grad!;
            if (Input.RequiresGrad) Input.Backend.Axpy(1f, dy, tape.GradOf(Input));
            if (Bias.RequiresGrad) Bias.Backend.BiasGrad(dy, tape.GradOf(Bias));
        }

        protected override void Clear() { Input = null!; Bias = null!; }
    }
}
