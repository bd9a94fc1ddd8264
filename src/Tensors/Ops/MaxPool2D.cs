using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>x (N, C, H, W) → (N, C, OH, OW), square window and stride (Keras MaxPooling2D(pool) has stride = pool).</summary>
    public static Tensor MaxPool2D(Tensor x, int pool, int stride) => MaxPool2D(x, pool, pool, stride, stride);

    /// <summary>
    /// Max pooling with no padding, floor division: OH = (H − poolH) / strideH + 1. Backward: each window's dy goes to the first
    /// maximum of the window in row-major order (recomputed from x, so nothing but x is kept); overlapping windows accumulate.
    /// A NaN in a window makes its output NaN and takes its gradient.
    /// </summary>
    public static Tensor MaxPool2D(Tensor x, int poolH, int poolW, int strideH, int strideW)
    {
        var g = PoolGeometry.Create(x.Shape, poolH, poolW, strideH, strideW, "MaxPool2D");
        var tape = Tape.Current;
        var y = tape.NewTemporary(g.OutputShape, x.Backend);
        x.Backend.MaxPool2DForward(x, y, g);
        if (tape.NeedsGrad(x))
        {
            var node = MaxPool2DNode.Rent();
            node.Input = x;
            node.Geometry = g;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private sealed class MaxPool2DNode : TapeNode<MaxPool2DNode>
    {
        public Tensor Input = null!;
        public PoolGeometry Geometry;

        protected internal override void Backward(Tape tape)
        {
            if (Input.RequiresGrad)
            {
                var dx = tape.GradForOverwrite(Input, out bool accumulate);
                Input.Backend.MaxPool2DBackward(Input, Output.Grad!, dx, Geometry, accumulate);
            }
        }

        protected override void Clear() { Input = null!; Geometry = default; }
    }
}
