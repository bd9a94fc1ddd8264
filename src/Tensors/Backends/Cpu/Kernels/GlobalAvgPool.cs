using System.Numerics.Tensors;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>Global average pooling: the mean of each (n, c) plane. Planes are independent, so large tensors split by plane.</summary>
public static unsafe class GlobalAvgPool
{
    /// <summary>x (N·C planes of S = H·W) → y (N·C): y[p] = Σ x[p, :] / S. S ≥ 1.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int planes, int spatial)
    {
        if (spatial < 1 || x.Length != (long)planes * spatial || y.Length != planes)
            throw new ArgumentException($"GlobalAvgPool.Forward: x must hold {planes}·{spatial} elements and y {planes}.");
        fixed (float* px = x, py = y)
        {
            var kernel = new ForwardKernel { X = px, Y = py, Spatial = spatial };
            RangeParallel.For(planes, RangeParallel.GrainFor(spatial), x.Length, ref kernel);
        }
    }

    /// <summary>dy (N·C) → dx (N·C planes of S) += dy[p] / S.</summary>
    public static void Backward(ReadOnlySpan<float> dy, Span<float> dx, int planes, int spatial)
    {
        if (spatial < 1 || dx.Length != (long)planes * spatial || dy.Length != planes)
            throw new ArgumentException($"GlobalAvgPool.Backward: dx must hold {planes}·{spatial} elements and dy {planes}.");
        fixed (float* pdy = dy, pdx = dx)
        {
            var kernel = new BackwardKernel { Dy = pdy, Dx = pdx, Spatial = spatial };
            RangeParallel.For(planes, RangeParallel.GrainFor(spatial), dx.Length, ref kernel);
        }
    }

    private struct ForwardKernel : IRangeKernel
    {
        public float* X, Y;
        public int Spatial;

        public readonly void Run(int start, int end)
        {
            for (int p = start; p < end; p++)
                // The sum starts at +0, as the GPU kernel's and a plain loop's do: TensorPrimitives.Sum returns −0 for a
                // plane of −0 at some lengths and vector widths (8 floats where Vector512 is accelerated), +0 at others.
                Y[p] = (0f + TensorPrimitives.Sum(new ReadOnlySpan<float>(X + (long)p * Spatial, Spatial))) / Spatial;
        }
    }

    private struct BackwardKernel : IRangeKernel
    {
        public float* Dy, Dx;
        public int Spatial;

        public readonly void Run(int start, int end)
        {
            for (int p = start; p < end; p++)
            {
                var plane = new Span<float>(Dx + (long)p * Spatial, Spatial);
                TensorPrimitives.Add(plane, Dy[p] / Spatial, plane);
            }
        }
    }
}
