using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>A view of x with another shape of the same size (no copy). Backward: dx += dy viewed as x's shape.</summary>
    public static Tensor Reshape(Tensor x, Shape shape)
    {
        if (shape.Size != x.Length)
            throw new ArgumentException($"Reshape: cannot view {x.Describe()} ({x.Length} elements) as {shape} ({shape.Size} elements); the element counts must match.");
        var tape = Tape.Current;
        var y = tape.NewView(x, shape);
        if (tape.NeedsGrad(x))
        {
            var node = ReshapeNode.Rent();
            node.Input = x;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    /// <summary>(N, d1, d2, ...) → (N, d1·d2·...): the Keras Flatten (row-major, so NCHW flattens channel-major).</summary>
    public static Tensor Flatten(Tensor x)
    {
        OpChecks.NonEmptyBatch("Flatten", x);
        return Reshape(x, new Shape(x.Shape[0], x.Shape.SizeFrom(1)));
    }

    private sealed class ReshapeNode : TapeNode<ReshapeNode>
    {
        public Tensor Input = null!;

        protected internal override void Backward(Tape tape)
        {
            if (Input.RequiresGrad)
                Input.Backend.Axpy(1f, Output.Grad!, tape.GradOf(Input)); // same length, flat storage: the view is free
        }

        protected override void Clear() => Input = null!;
    }
}
