using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void MaxPool2DForward(Tensor x, Tensor y, in PoolGeometry g) => MaxPoolKernel.Forward(x.Span, y.Span, g);

    public void MaxPool2DBackward(Tensor x, Tensor dy, Tensor dx, in PoolGeometry g, bool accumulate) =>
        MaxPoolKernel.Backward(x.Span, dy.Span, dx.Span, g, accumulate);

    // (N, C, H, W) → (N, C): N·C planes of H·W.
    public void GlobalAvgPoolForward(Tensor x, Tensor y) =>
        GlobalAvgPool.Forward(x.Span, y.Span, x.Shape[0] * x.Shape[1], x.Shape.SizeFrom(2));

    public void GlobalAvgPoolBackward(Tensor dy, Tensor dx) =>
        GlobalAvgPool.Backward(dy.Span, dx.Span, dx.Shape[0] * dx.Shape[1], dx.Shape.SizeFrom(2));
}
