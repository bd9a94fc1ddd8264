namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probabilities, Tensor loss) =>
        loss.Span[0] = (float)Kernels.SoftmaxCrossEntropy.Forward(
            logits.Span, labels.Span, probabilities.Span, logits.Shape[0], logits.Shape[1]);

    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, Tensor dLoss, Tensor dLogits) =>
        Kernels.SoftmaxCrossEntropy.Backward(
            probabilities.Span, labels.Span, dLoss.Span[0], dLogits.Span, probabilities.Shape[0], probabilities.Shape[1]);
}
