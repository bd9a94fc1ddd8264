namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>
    /// Mean softmax cross-entropy: logits (N, K), labels (N) holding class indices 0..K−1 as floats → a (1) loss tensor.
    /// </summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, Tensor labels) =>
        throw new NotImplementedException("SoftmaxCrossEntropy op: owned by the elementwise/pooling work item.");
}
