using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    private Action<Index1D, FloatView, FloatView, FloatView, int, int>? _addBias;
    private Action<KernelConfig, FloatView, FloatView, int, int, int>? _biasGrad;

    public void AddBias(Tensor x, Tensor bias, Tensor y)
    {
        int channels = x.Shape[1];
        int inner = x.Shape.Rank == 4 ? x.Shape[2] * x.Shape[3] : 1;
        RunAddBias(View(x), View(bias), View(y), x.Length, channels, inner);
    }

    public void BiasGrad(Tensor dy, Tensor dBias)
    {
        int channels = dy.Shape[1];
        int inner = dy.Shape.Rank == 4 ? dy.Shape[2] * dy.Shape[3] : 1;
        RunBiasGrad(View(dy), View(dBias), dy.Shape[0], channels, inner);
    }

    // x, y (N, C, inner), bias (C); y may be x.
    private void RunAddBias(FloatView x, FloatView bias, FloatView y, int length, int channels, int inner)
    {
        if (length == 0) return;
        var kernel = _addBias ??= Load(nameof(Kernels.Bias.Add),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, FloatView, int, int>(Kernels.Bias.Add));
        Launch(nameof(AddBias));
        kernel(length, x, bias, y, channels, inner);
    }

    // dy (N, C, inner) -> dBias (C) +=; one group per channel.
    private void RunBiasGrad(FloatView dy, FloatView dBias, int batch, int channels, int inner)
    {
        if (channels == 0) return;
        var kernel = _biasGrad ??= Load(nameof(Kernels.Bias.Grad),
            a => a.LoadStreamKernel<FloatView, FloatView, int, int, int>(Kernels.Bias.Grad));
        int group = ReductionGroupSize;
        var config = new KernelConfig(new Index1D(channels), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(group));
        Launch(nameof(BiasGrad));
        kernel(config, dy, dBias, batch, channels, inner);
    }
}
