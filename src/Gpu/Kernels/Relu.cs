using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>ReLU forward and backward, one thread per element.</summary>
public static class Relu
{
    /// <summary>y = max(x, 0); x, y (n), y may alias x. NaN stays NaN, as on the CPU.</summary>
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Forward(Index1D i, FloatView x, FloatView y)
    {
        float v = x[i];
        y[i] = v > 0f || float.IsNaN(v) ? v : 0f;
    }

    /// <summary>
    /// dx += (dy where y &gt; 0, else +0); y, dy, dx (n). The +0 is added, not skipped, as on the CPU: a −0 in dx where y ≤ 0
    /// becomes +0 (dx + G), and a NaN dy there is not routed.
    /// </summary>
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Backward(Index1D i, FloatView y, FloatView dy, FloatView dx)
    {
        dx[i] = dx[i] + (y[i] > 0f ? dy[i] : 0f);
    }
}
