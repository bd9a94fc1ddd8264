using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>Bias broadcast on axis 1 and its gradient (a per-channel reduction).</summary>
public static class Bias
{
    // x, y (N, C, inner) with bias (C); inner = H·W for images, 1 for (N, F) matrices. y may be x.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Add(Index1D i, FloatView x, FloatView bias, FloatView y, int channels, int inner)
    {
        int channel = (i / inner) % channels;
        y[i] = x[i] + bias[channel];
    }

    /// <summary>
    /// dBias[c] += Σ over n and the inner axis of dy[n, c, ·]: dy (N, C, inner) → dBias (C). One group per channel; each thread
    /// sums a fixed strided subset, then a shared-memory tree adds the partial sums in a fixed order (deterministic).
    /// </summary>
    // dy (N, C, inner) -> dBias (C)
    [GpuKernel(KernelGrouping.Explicit)]
    public static void Grad(FloatView dy, FloatView dBias, int batch, int channels, int inner)
    {
        var partial = SharedMemory.GetDynamic<float>();
        int channel = Grid.IdxX, tid = Group.IdxX, threads = Group.DimX;
        int count = batch * inner;
        float sum = 0f;
        for (int j = tid; j < count; j += threads)
        {
            int n = j / inner, s = j - n * inner;
            sum += dy[((long)n * channels + channel) * inner + s];
        }
        float total = Reduction.GroupSum(partial, sum);
        if (tid == 0) dBias[channel] += total;
    }
}
