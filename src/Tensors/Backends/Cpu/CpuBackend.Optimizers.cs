using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void AdamUpdate(Tensor parameter, Tensor gradient, Tensor m, Tensor v, in AdamStep step) => throw new NotImplementedException();

    public void SgdUpdate(Tensor parameter, Tensor gradient, Tensor velocity, float learningRate, float momentum) => throw new NotImplementedException();
}
