using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float rate, ulong seed) => throw new NotImplementedException();

    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx) => throw new NotImplementedException();
}
