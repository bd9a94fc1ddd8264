using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void Conv2DForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g) => throw new NotImplementedException("Conv2DForward: owned by the conv work item.");

    public void Conv2DBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g) => throw new NotImplementedException("Conv2DBackward: owned by the conv work item.");
}
