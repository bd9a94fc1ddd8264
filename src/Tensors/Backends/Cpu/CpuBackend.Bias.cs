using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void AddBias(Tensor x, Tensor bias, Tensor y) => throw new NotImplementedException();

    public void BiasGrad(Tensor dy, Tensor dBias) => throw new NotImplementedException();
}
