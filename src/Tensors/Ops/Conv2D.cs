using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>x (N, C, H, W), w (OC, C, KH, KW), bias (OC) or null → (N, OC, OH, OW).</summary>
    public static Tensor Conv2D(Tensor x, Tensor w, Tensor? bias, int stride, Padding padding) =>
        Conv2D(x, w, bias, stride, stride, padding);

    /// <summary>
    /// 2-D convolution (cross-correlation, as every framework): x (N, C, H, W), w (OC, C, KH, KW), bias (OC) or null →
    /// y (N, OC, OH, OW), sizes and padding resolved by <see cref="ConvGeometry.Create"/> ('same' puts the extra row/column
    /// at the bottom/right, as Keras). Backward accumulates dx, dw and dBias for the inputs that require them.
    /// </summary>
    public static Tensor Conv2D(Tensor x, Tensor w, Tensor? bias, int strideH, int strideW, Padding padding)
    {
        var g = CheckConv2D("Conv2D", x, w, bias, strideH, strideW, padding);
        var y = Tape.Current.NewTemporary(g.OutputShape, x.Backend);
        x.Backend.Conv2DForward(x, w, bias, y, g);
        return Record<Conv2DNode>(x, w, bias, g, y);
    }

    /// <summary>Relu(Conv2D(x, w, bias, stride, padding)) as one op (see the full overload).</summary>
    public static Tensor Conv2DRelu(Tensor x, Tensor w, Tensor? bias, int stride, Padding padding) =>
        Conv2DRelu(x, w, bias, stride, stride, padding);

    /// <summary>
    /// y = max(Conv2D(x, w, bias, …), 0) as ONE op: the backend applies the ReLU to each output while it is still in cache,
    /// and the backward masks the upstream gradient by y &gt; 0 (y &gt; 0 ⇔ pre-activation &gt; 0; ReLU'(0) = 0 and a NaN
    /// output passes no gradient, exactly as <see cref="Relu"/>) right before the convolution's backward. No pre-activation
    /// tensor, no ReLU gradient tensor. Same numbers as Relu(Conv2D(…)), forward and backward.
    /// </summary>
    public static Tensor Conv2DRelu(Tensor x, Tensor w, Tensor? bias, int strideH, int strideW, Padding padding)
    {
        var g = CheckConv2D("Conv2DRelu", x, w, bias, strideH, strideW, padding);
        var y = Tape.Current.NewTemporary(g.OutputShape, x.Backend);
        x.Backend.Conv2DReluForward(x, w, bias, y, g);
        return Record<Conv2DReluNode>(x, w, bias, g, y);
    }

    /// <summary>Records the backward of a convolution whose output <paramref name="y"/> has been computed; returns y.</summary>
    private static Tensor Record<TNode>(Tensor x, Tensor w, Tensor? bias, in ConvGeometry g, Tensor y) where TNode : ConvNode<TNode>, new()
    {
        var tape = Tape.Current;
        if (tape.NeedsGrad(x, w, bias))
        {
            var node = ConvNode<TNode>.Rent();
            node.X = x; node.W = w; node.Bias = bias; node.Geometry = g;
            node.Output = y;
            tape.Record(node);
        }
        return y;
    }

    private static ConvGeometry CheckConv2D(string op, Tensor x, Tensor w, Tensor? bias, int strideH, int strideW, Padding padding)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (strideH < 1 || strideW < 1)
            throw new ArgumentException($"{op}: stride ({strideH}, {strideW}) must be >= 1 (input {x.Describe()}, weights {w.Describe()}); use stride 1 for a dense convolution.");
        var g = ConvGeometry.Create(x.Shape, w.Shape, strideH, strideW, padding, op);
        OpChecks.SameBackend(op, x, w);
        if (bias is not null)
        {
            if (bias.Shape.Rank != 1 || bias.Shape[0] != g.OC)
                throw new ArgumentException($"{op}: bias {bias.Describe()} must be ({g.OC}), one value per output channel of weights {w.Describe()}.");
            OpChecks.SameBackend(op, x, bias);
        }
        return g;
    }

    /// <summary>What both convolution nodes keep, and the gradients they ask for; <see cref="Run"/> is the backend call.</summary>
    private abstract class ConvNode<TSelf> : TapeNode<TSelf> where TSelf : ConvNode<TSelf>, new()
    {
        public Tensor X = null!, W = null!;
        public Tensor? Bias;
        public ConvGeometry Geometry;

        protected internal sealed override void Backward(Tape tape)
        {
            // dx is usually the first gradient X receives: then it is written whole, without a zero fill first — unless X
            // is also the weight or bias tensor, whose gradient would then share that uninitialised storage.
            bool accumulateDx = true;
            var dx = !X.RequiresGrad ? null
                : ReferenceEquals(X, W) || ReferenceEquals(X, Bias) ? tape.GradOf(X)
                : tape.GradForOverwrite(X, out accumulateDx);
            var dw = W.RequiresGrad ? tape.GradOf(W) : null;
            var dBias = Bias is { RequiresGrad: true } ? tape.GradOf(Bias) : null;
            if (dx is null && dw is null && dBias is null) return;
            Run(dx, dw, dBias, accumulateDx);
        }

        protected abstract void Run(Tensor? dx, Tensor? dw, Tensor? dBias, bool accumulateDx);

        protected sealed override void Clear() { X = null!; W = null!; Bias = null; }
    }

    private sealed class Conv2DNode : ConvNode<Conv2DNode>
    {
        protected override void Run(Tensor? dx, Tensor? dw, Tensor? dBias, bool accumulateDx) =>
            X.Backend.Conv2DBackward(X, W, Output.Grad!, dx, dw, dBias, Geometry, accumulateDx);
    }

    private sealed class Conv2DReluNode : ConvNode<Conv2DReluNode>
    {
        // Output is the post-ReLU y: it decides the mask.
        protected override void Run(Tensor? dx, Tensor? dw, Tensor? dBias, bool accumulateDx) =>
            X.Backend.Conv2DReluBackward(X, W, Output, Output.Grad!, dx, dw, dBias, Geometry, accumulateDx);
    }
}
