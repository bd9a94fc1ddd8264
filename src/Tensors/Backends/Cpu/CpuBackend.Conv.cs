using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    // Weights (OC, C, KH, KW) are read as the (OC, C·KH·KW) matrix they are in memory.
    public void Conv2DForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g) =>
        Conv2DForwardKernel.Run(Elements(x), Elements(w), bias is null ? default : Elements(bias), Elements(y), g);

    public void Conv2DBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g,
        bool accumulateDx = true) =>
        Conv2DBackwardKernel.Run(Elements(x), Elements(w), Elements(dy),
            dx is null ? default : Elements(dx), dw is null ? default : Elements(dw), dBias is null ? default : Elements(dBias), g,
            accumulateDx: accumulateDx);

    // Fused Conv2D + ReLU: the ReLU runs on each output row / plane right after it is computed, and the backward masks dY
    // per group of images into scratch (see Conv2DBackwardKernel.RunRelu), instead of the default composition's full passes.
    public void Conv2DReluForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g) =>
        Conv2DForwardKernel.Run(Elements(x), Elements(w), bias is null ? default : Elements(bias), Elements(y), g, relu: true);

    public void Conv2DReluBackward(Tensor x, Tensor w, Tensor y, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g,
        bool accumulateDx = true) =>
        Conv2DBackwardKernel.RunRelu(Elements(x), Elements(w), Elements(y), Elements(dy),
            dx is null ? default : Elements(dx), dw is null ? default : Elements(dw), dBias is null ? default : Elements(dBias), g,
            accumulateDx: accumulateDx);

    private static Span<float> Elements(Tensor t) => t.Span[..t.Length];
}
