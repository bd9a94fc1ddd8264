using ILGPU;
using ILGPU.Algorithms;

namespace NativeConv.Gpu.Kernels;

/// <summary>Fused, numerically stable softmax + mean cross-entropy.</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// One group: thread t handles rows t, t + G, ... (max-shifted exponentials, so no overflow), then the group adds the row
    /// losses in a fixed tree order and thread 0 writes the mean. Labels are class indices stored as floats.
    /// </summary>
    // logits (N, K), labels (N) -> probabilities (N, K), loss (1)
    [GpuKernel(KernelGrouping.Explicit)]
    public static void Forward(FloatView logits, FloatView labels, FloatView probabilities, FloatView loss, int rows, int classes)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        float rowLossSum = 0f;
        for (int r = Group.IdxX; r < rows; r += Group.DimX)
        {
            long start = (long)r * classes;
            float max = logits[start];
            for (int k = 1; k < classes; k++) max = XMath.Max(max, logits[start + k]);
            float sum = 0f;
            for (int k = 0; k < classes; k++)
            {
                float e = XMath.Exp(logits[start + k] - max);
                probabilities[start + k] = e;
                sum += e;
            }
            float inverse = 1f / sum;
            for (int k = 0; k < classes; k++) probabilities[start + k] *= inverse;
            int label = (int)labels[r];
            // −log softmax[label] = log Σ exp(z − max) − (z[label] − max)
            rowLossSum += XMath.Log(sum) - (logits[start + label] - max);
        }
        float total = Reduction.GroupSum(scratch, rowLossSum);
        if (Group.IdxX == 0) loss[0] = total / rows;
    }

    // probabilities (N, K), labels (N), dLoss (1) -> dLogits (N, K) += dLoss · (p − onehot) / N; one thread per element.
    // In the CPU's form and order (s = dLoss / N; += p·s; −= s at the label), so the two agree on rounding and on the sign
    // of a zero (dLoss = 0 turns a −0 at the label into +0, as on the CPU).
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, FloatView probabilities, FloatView labels, FloatView dLoss, FloatView dLogits, int rows, int classes)
    {
        int r = i / classes, k = i - r * classes;
        float scale = dLoss[0] / rows;
        float d = dLogits[i] + probabilities[i] * scale;
        if ((int)labels[r] == k) d -= scale;
        dLogits[i] = d;
    }
}
