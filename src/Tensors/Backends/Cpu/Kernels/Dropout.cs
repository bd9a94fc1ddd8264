using System.Numerics.Tensors;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>Inverted-dropout kernels: plain span math, no tape.</summary>
public static unsafe class Dropout
{
    /// <summary>
    /// x, y, mask (L), any shape flattened; y may alias x. mask[i] = 0 when <see cref="CounterRng.Uniform"/>(key(seed), i) &lt; rate,
    /// else 1/(1−rate); y = x · mask. The decision for element i depends only on (seed, i): thread count and backend never change it.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float rate, ulong seed)
    {
        if (y.Length != x.Length || mask.Length != x.Length)
            throw new ArgumentException("Dropout.Forward: x, y and mask must have the same length.");
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "Dropout.Forward: rate must be in [0, 1).");
        fixed (float* pMask = mask)
        {
            var kernel = new MaskKernel { Mask = pMask, Rate = rate, Scale = 1f / (1f - rate), Key = CounterRng.Key(seed) };
            RangeParallel.ForElements(mask.Length, ref kernel);
        }
        TensorPrimitives.Multiply(x, mask, y);
    }

    /// <summary>dx += dy · mask; all (L).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx)
    {
        if (mask.Length != dy.Length || dx.Length != dy.Length)
            throw new ArgumentException("Dropout.Backward: dy, mask and dx must have the same length.");
        TensorPrimitives.MultiplyAdd(dy, mask, dx, dx);
    }

    private struct MaskKernel : IRangeKernel
    {
        public float* Mask;
        public float Rate, Scale;
        public ulong Key;

        public readonly void Run(int start, int end)
        {
            // Scalar on purpose: the 64-bit multiplies of the hash are the cost, and this loop is the exact recipe the GPU ports.
            for (int i = start; i < end; i++)
                Mask[i] = CounterRng.Uniform(Key, i) < Rate ? 0f : Scale;
        }
    }
}
