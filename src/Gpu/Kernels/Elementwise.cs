using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>Fill, copy and axpy: one thread per element.</summary>
public static class Elementwise
{
    /// <summary>t[i] = value; t (n).</summary>
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Fill(Index1D i, FloatView t, float value) => t[i] = value;

    /// <summary>destination[i] = source[i]; both (n).</summary>
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Copy(Index1D i, FloatView source, FloatView destination) => destination[i] = source[i];

    /// <summary>y[i] += alpha · x[i]; both (n).</summary>
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Axpy(Index1D i, float alpha, FloatView x, FloatView y) => y[i] += alpha * x[i];
}
