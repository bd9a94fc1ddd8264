using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probabilities, Tensor loss) => throw new NotImplementedException();

    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, Tensor dLoss, Tensor dLogits) => throw new NotImplementedException();
}
