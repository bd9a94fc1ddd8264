using System.Numerics.Tensors;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// Bias on axis 1. Both layouts are seen as (N, C, S): a dense (N, F) tensor is S = 1, an image (N, C, H, W) is S = H·W.
/// </summary>
public static unsafe class Bias
{
    /// <summary>x, y (N, C, S), bias (C) → y = x + bias[c]. y may alias x.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y, int batch, int channels, int spatial)
    {
        long total = (long)batch * channels * spatial;
        if (x.Length != total || y.Length != total || bias.Length != channels)
            throw new ArgumentException($"Bias.Forward: x and y must hold {batch}·{channels}·{spatial} elements and bias {channels}.");
        fixed (float* px = x, pb = bias, py = y)
        {
            if (spatial == 1)
            {
                // Dense: every row gets the whole bias vector.
                var rows = new RowKernel { X = px, Bias = pb, Y = py, Columns = channels };
                RangeParallel.For(batch, RangeParallel.GrainFor(channels), total, ref rows);
            }
            else
            {
                // Images: plane p = (n, c) gets the scalar bias[c].
                var planes = new PlaneKernel { X = px, Bias = pb, Y = py, Channels = channels, Spatial = spatial };
                RangeParallel.For(batch * channels, RangeParallel.GrainFor(spatial), total, ref planes);
            }
        }
    }

    /// <summary>dy (N, C, S) → dBias (C) += Σ over n and s of dy. Deterministic: the summation order depends only on the shape.</summary>
    public static void Backward(ReadOnlySpan<float> dy, Span<float> dBias, int batch, int channels, int spatial)
    {
        long total = (long)batch * channels * spatial;
        if (dy.Length != total || dBias.Length != channels)
            throw new ArgumentException($"Bias.Backward: dy must hold {batch}·{channels}·{spatial} elements and dBias {channels}.");
        fixed (float* pdy = dy, pdb = dBias)
        {
            if (spatial == 1)
            {
                // Dense: column strips, each summed down the rows with whole-vector adds.
                var strips = new ColumnStripGradKernel { Dy = pdy, DBias = pdb, Rows = batch, Columns = channels };
                int stripCount = (channels + ColumnStripGradKernel.Strip - 1) / ColumnStripGradKernel.Strip;
                RangeParallel.For(stripCount, 1, total, ref strips);
            }
            else
            {
                // Images: one channel per item, its N planes summed in double.
                var planes = new ChannelGradKernel { Dy = pdy, DBias = pdb, Batch = batch, Channels = channels, Spatial = spatial };
                RangeParallel.For(channels, RangeParallel.GrainFor(batch * spatial), total, ref planes);
            }
        }
    }

    private struct RowKernel : IRangeKernel
    {
        public float* X, Bias, Y;
        public int Columns;

        public readonly void Run(int start, int end)
        {
            var bias = new ReadOnlySpan<float>(Bias, Columns);
            for (int row = start; row < end; row++)
            {
                long offset = (long)row * Columns;
                TensorPrimitives.Add(new ReadOnlySpan<float>(X + offset, Columns), bias, new Span<float>(Y + offset, Columns));
            }
        }
    }

    private struct PlaneKernel : IRangeKernel
    {
        public float* X, Bias, Y;
        public int Channels, Spatial;

        public readonly void Run(int start, int end)
        {
            for (int plane = start; plane < end; plane++)
            {
                long offset = (long)plane * Spatial;
                TensorPrimitives.Add(new ReadOnlySpan<float>(X + offset, Spatial), Bias[plane % Channels], new Span<float>(Y + offset, Spatial));
            }
        }
    }

    private struct ColumnStripGradKernel : IRangeKernel
    {
        public const int Strip = 256;
        public float* Dy, DBias;
        public int Rows, Columns;

        public readonly void Run(int start, int end)
        {
            float* sums = stackalloc float[Strip];
            for (int strip = start; strip < end; strip++)
            {
                int first = strip * Strip, width = Math.Min(Strip, Columns - first);
                var acc = new Span<float>(sums, width);
                acc.Clear();
                for (int row = 0; row < Rows; row++)
                    TensorPrimitives.Add(acc, new ReadOnlySpan<float>(Dy + (long)row * Columns + first, width), acc);
                var target = new Span<float>(DBias + first, width);
                TensorPrimitives.Add(target, acc, target);
            }
        }
    }

    private struct ChannelGradKernel : IRangeKernel
    {
        public float* Dy, DBias;
        public int Batch, Channels, Spatial;

        public readonly void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                double sum = 0;
                for (int n = 0; n < Batch; n++)
                    sum += TensorPrimitives.Sum(new ReadOnlySpan<float>(Dy + ((long)n * Channels + c) * Spatial, Spatial));
                DBias[c] += (float)sum;
            }
        }
    }
}
