using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>Inverted dropout with a counter-based mask (see <see cref="CounterRng"/>).</summary>
public static class Dropout
{
    // x (n) -> y (n), mask (n): mask = 0 where dropped (Uniform(key, i) < rate), else scale = 1/(1 − rate); y = x · mask.
    // key = CounterRng.Key(seed), computed on the host once per call, exactly as the CPU kernel does.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Forward(Index1D i, FloatView x, FloatView y, FloatView mask, float rate, float scale, ulong key)
    {
        float m = CounterRng.Uniform(key, i) < rate ? 0f : scale;
        mask[i] = m;
        y[i] = x[i] * m;
    }

    // dy (n), mask (n) -> dx (n) += dy · mask.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, FloatView dy, FloatView mask, FloatView dx) => dx[i] += dy[i] * mask[i];
}
