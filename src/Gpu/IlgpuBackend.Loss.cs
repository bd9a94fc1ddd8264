using ILGPU;
using ILGPU.Runtime;
using NativeConv.Tensors;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    private Action<KernelConfig, FloatView, FloatView, FloatView, FloatView, int, int>? _softmaxForward;
    private Action<Index1D, FloatView, FloatView, FloatView, FloatView, int, int>? _softmaxBackward;

    public void SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probabilities, Tensor loss)
    {
        int rows = logits.Shape[0], classes = logits.Shape[1];
        var kernel = _softmaxForward ??= Load(nameof(Kernels.SoftmaxCrossEntropy.Forward),
            a => a.LoadStreamKernel<FloatView, FloatView, FloatView, FloatView, int, int>(Kernels.SoftmaxCrossEntropy.Forward));
        // One group: the mean needs every row, and batches are small (the rows run in parallel across the group).
        int group = ReductionGroupSize;
        var config = new KernelConfig(new Index1D(1), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(group));
        Launch(nameof(SoftmaxCrossEntropyForward));
        kernel(config, View(logits), View(labels), View(probabilities), View(loss), rows, classes);
    }

    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, Tensor dLoss, Tensor dLogits)
    {
        if (dLogits.Length == 0) return;
        int rows = probabilities.Shape[0], classes = probabilities.Shape[1];
        var kernel = _softmaxBackward ??= Load(nameof(Kernels.SoftmaxCrossEntropy.Backward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, FloatView, FloatView, int, int>(Kernels.SoftmaxCrossEntropy.Backward));
        Launch(nameof(SoftmaxCrossEntropyBackward));
        kernel(dLogits.Length, View(probabilities), View(labels), View(dLoss), View(dLogits), rows, classes);
    }
}
