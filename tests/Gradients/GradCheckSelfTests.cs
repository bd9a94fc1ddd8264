using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

/// <summary>The checker itself must be able to fail: a deliberately wrong backward is caught, a right one passes.</summary>
public class GradCheckSelfTests
{
    /// <summary>y = 3x with a backward of choice: right (dx += 3·dy) or wrong (dx += 2·dy).</summary>
    private static Tensor ScaleByThree(Tensor x, float backwardFactor)
    {
        var tape = Tape.Current;
        var y = tape.NewTemporary(x.Shape, x.Backend);
        var xs = x.ToArray();
        for (int i = 0; i < xs.Length; i++) xs[i] *= 3f;
        y.CopyFrom(xs);
        if (tape.NeedsGrad(x))
        {
            var node = ScaleNode.Rent();
            node.Input = x;
            node.Factor = backwardFactor;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private sealed class ScaleNode : TapeNode<ScaleNode>
    {
        public Tensor Input = null!;
        public float Factor;

        protected internal override void Backward(Tape tape) => Input.Backend.Axpy(Factor, Output.Grad!, tape.GradOf(Input));

        protected override void Clear() => Input = null!;
    }

    [Fact]
    public void Correct_backward_passes()
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(17, 1), new Shape(17));
        var result = GradCheck.Run(t => ScaleByThree(t[0], 3f), [x]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(17, result.Checked);
    }

    [Fact]
    public void Wrong_backward_is_caught()
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(17, 1), new Shape(17));
        var result = GradCheck.Run(t => ScaleByThree(t[0], 2f), [x]);
        Assert.False(result.Passed);
        Assert.Equal(17, result.Mismatches.Count);
    }

    [Fact]
    public void Wrong_relu_backward_is_caught()
    {
        // A subtler bug: a ReLU whose backward lets the gradient through everywhere (forgets the mask).
        using var x = GradCheck.Input("x", TestRandom.AwayFromZero(40, 2), new Shape(40));
        var result = GradCheck.Run(t => ScaleByThree(Op.Relu(t[0]), 3f) is var y ? LeakyBackward(t[0], y) : y, [x]);
        Assert.False(result.Passed);
    }

    // Adds 0·x in the forward but a full dy in the backward: a gradient leaking past the ReLU mask.
    private static Tensor LeakyBackward(Tensor x, Tensor y)
    {
        var tape = Tape.Current;
        if (tape.NeedsGrad(x))
        {
            var node = ScaleNode.Rent();
            node.Input = x;
            node.Factor = 1f;
            var alias = tape.NewView(y, y.Shape);
            node.Output = alias;
            tape.Record(node);
            return alias;
        }
        return y;
    }
}
