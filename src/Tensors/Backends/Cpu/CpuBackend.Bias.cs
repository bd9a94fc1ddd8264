using NativeConv.Tensors.Backends.Cpu.Kernels;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    // (N, F) is seen as (N, F, 1) and (N, C, H, W) as (N, C, H·W): one kernel for both layouts.
    public void AddBias(Tensor x, Tensor bias, Tensor y) =>
        Kernels.Bias.Forward(x.Span, bias.Span, y.Span, x.Shape[0], x.Shape[1], x.Shape.SizeFrom(2));

    public void BiasGrad(Tensor dy, Tensor dBias) =>
        Kernels.Bias.Backward(dy.Span, dBias.Span, dy.Shape[0], dy.Shape[1], dy.Shape.SizeFrom(2));
}
