namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void AdamUpdate(Tensor parameter, Tensor gradient, Tensor m, Tensor v, in AdamStep step) =>
        Kernels.AdamUpdate.Update(parameter.Span, gradient.Span, m.Span, v.Span,
            step.CorrectedLearningRate, step.Beta1, step.Beta2, step.Epsilon);

    public void SgdUpdate(Tensor parameter, Tensor gradient, Tensor velocity, float learningRate, float momentum) =>
        Kernels.SgdUpdate.Update(parameter.Span, gradient.Span, velocity.Span, learningRate, momentum);
}
