using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    private Action<Index1D, AdamParams, FloatView, FloatView, FloatView, FloatView>? _adam;
    private Action<Index1D, FloatView, FloatView, FloatView, float, float>? _sgd;

    public void AdamUpdate(Tensor parameter, Tensor gradient, Tensor m, Tensor v, in AdamStep step)
    {
        if (parameter.Length == 0) return;
        var kernel = _adam ??= Load(nameof(Optimizers.Adam),
            a => a.LoadAutoGroupedStreamKernel<Index1D, AdamParams, FloatView, FloatView, FloatView, FloatView>(Optimizers.Adam));
        var s = new AdamParams
        {
            CorrectedLearningRate = step.CorrectedLearningRate, Beta1 = step.Beta1, Beta2 = step.Beta2, Epsilon = step.Epsilon,
        };
        Launch(nameof(AdamUpdate));
        kernel(parameter.Length, s, View(parameter), View(gradient), View(m), View(v));
    }

    public void SgdUpdate(Tensor parameter, Tensor gradient, Tensor velocity, float learningRate, float momentum)
    {
        if (parameter.Length == 0) return;
        var kernel = _sgd ??= Load(nameof(Optimizers.Sgd),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, FloatView, float, float>(Optimizers.Sgd));
        Launch(nameof(SgdUpdate));
        kernel(parameter.Length, View(parameter), View(gradient), View(velocity), learningRate, momentum);
    }
}
