using ILGPU;
using ILGPU.Runtime;
using NativeConv.Tensors;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    private Action<Index1D, FloatView, FloatView>? _reluForward;
    private Action<Index1D, FloatView, FloatView, FloatView>? _reluBackward;
    private Action<Index1D, FloatView, FloatView, FloatView, float, float, ulong>? _dropoutForward;
    private Action<Index1D, FloatView, FloatView, FloatView>? _dropoutBackward;

    public void ReluForward(Tensor x, Tensor y)
    {
        if (x.Length == 0) return;
        var kernel = _reluForward ??= Load(nameof(Kernels.Relu.Forward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView>(Kernels.Relu.Forward));
        Launch(nameof(ReluForward));
        kernel(x.Length, View(x), View(y));
    }

    public void ReluBackward(Tensor y, Tensor dy, Tensor dx)
    {
        if (y.Length == 0) return;
        var kernel = _reluBackward ??= Load(nameof(Kernels.Relu.Backward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, FloatView>(Kernels.Relu.Backward));
        Launch(nameof(ReluBackward));
        kernel(y.Length, View(y), View(dy), View(dx));
    }

    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float rate, ulong seed)
    {
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), rate, $"{Name}: DropoutForward rate must be in [0, 1).");
        if (x.Length == 0) return;
        var kernel = _dropoutForward ??= Load(nameof(Kernels.Dropout.Forward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, FloatView, float, float, ulong>(Kernels.Dropout.Forward));
        Launch(nameof(DropoutForward));
        kernel(x.Length, View(x), View(y), View(mask), rate, 1f / (1f - rate), Kernels.CounterRng.Key(seed));
    }

    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx)
    {
        if (dy.Length == 0) return;
        var kernel = _dropoutBackward ??= Load(nameof(Kernels.Dropout.Backward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, FloatView>(Kernels.Dropout.Backward));
        Launch(nameof(DropoutBackward));
        kernel(dy.Length, View(dy), View(mask), View(dx));
    }
}
