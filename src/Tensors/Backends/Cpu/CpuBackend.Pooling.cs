using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void MaxPool2DForward(Tensor x, Tensor y, in PoolGeometry g) => throw new NotImplementedException();

    public void MaxPool2DBackward(Tensor x, Tensor dy, Tensor dx, in PoolGeometry g) => throw new NotImplementedException();

    public void GlobalAvgPoolForward(Tensor x, Tensor y) => throw new NotImplementedException();

    public void GlobalAvgPoolBackward(Tensor dy, Tensor dx) => throw new NotImplementedException();
}
