namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float rate, ulong seed) =>
        Kernels.Dropout.Forward(x.Span, y.Span, mask.Span, rate, seed);

    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx) => Kernels.Dropout.Backward(dy.Span, mask.Span, dx.Span);
}
