using NativeConv.Tensors.Backends.Cpu.Kernels;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void ReluForward(Tensor x, Tensor y) => Relu.Forward(x.Span, y.Span);

    public void ReluBackward(Tensor y, Tensor dy, Tensor dx) => Relu.Backward(y.Span, dy.Span, dx.Span);
}
