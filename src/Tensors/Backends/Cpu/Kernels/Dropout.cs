using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>Inverted-dropout kernels: plain span math, no tape. The multiplies run on <see cref="ElementwiseDriver"/> at every width.</summary>
public static unsafe class Dropout
{
    /// <summary>
    /// x, y, mask (L), any shape flattened; y may alias x. mask[i] = 0 when <see cref="CounterRng.Uniform"/>(key(seed), i) &lt; rate,
    /// else 1/(1−rate); y = x · mask. The decision for element i depends only on (seed, i): thread count, width and backend
    /// never change it. A NaN or ±∞ in x stays NaN in y where it is dropped (x · 0), as the plain product gives.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float rate, ulong seed) =>
        Forward(x, y, mask, rate, seed, VectorWidth.Auto);

    internal static void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float rate, ulong seed, VectorWidth width)
    {
        if (y.Length != x.Length || mask.Length != x.Length)
            throw new ArgumentException("Dropout.Forward: x, y and mask must have the same length.");
        if (!(rate >= 0f && rate < 1f))
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "Dropout.Forward: rate must be in [0, 1).");
        fixed (float* px = x, py = y, pMask = mask)
        {
            var chunks = new ForwardChunks
            {
                Mask = pMask, Rate = rate, Scale = 1f / (1f - rate), Key = CounterRng.Key(seed),
                Multiply = new MultiplyKernel { X = px, Mask = pMask, Y = py },
                Width = ElementwiseDriver.Resolve(width),
            };
            RangeParallel.ForElements(mask.Length, ref chunks);
        }
    }

    /// <summary>dx += dy · mask; all (L).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx) => Backward(dy, mask, dx, VectorWidth.Auto);

    internal static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx, VectorWidth width)
    {
        if (mask.Length != dy.Length || dx.Length != dy.Length)
            throw new ArgumentException("Dropout.Backward: dy, mask and dx must have the same length.");
        fixed (float* pdy = dy, pMask = mask, pdx = dx)
            ElementwiseDriver.Run(dy.Length, new MultiplyAddKernel { Dy = pdy, Mask = pMask, Dx = pdx }, width);
    }

    /// <summary>
    /// Each chunk draws its mask, then multiplies while the mask is still in cache. The draw stays scalar on purpose: it is
    /// two 64-bit multiplies per element, which neither AVX2 nor NEON has as a vector instruction (only AVX-512DQ does), and
    /// this loop is the exact recipe the GPU backend ports.
    /// </summary>
    private struct ForwardChunks : IRangeKernel
    {
        public float* Mask;
        public float Rate, Scale;
        public ulong Key;
        public MultiplyKernel Multiply;
        public VectorWidth Width;

        public readonly void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
                Mask[i] = CounterRng.Uniform(Key, i) < Rate ? 0f : Scale;
            ElementwiseDriver.RunRange(Multiply, start, end, Width);
        }
    }

    /// <summary>y = x · mask.</summary>
    private readonly struct MultiplyKernel : IElementwiseKernel
    {
        public float* X { get; init; }
        public float* Mask { get; init; }
        public float* Y { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec> =>
            TVec.Store(Y + i, TVec.Load(X + i) * TVec.Load(Mask + i));
    }

    /// <summary>dx = dx + dy · mask (an unfused multiply, then the add).</summary>
    private readonly struct MultiplyAddKernel : IElementwiseKernel
    {
        public float* Dy { get; init; }
        public float* Mask { get; init; }
        public float* Dx { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec> =>
            TVec.Store(Dx + i, TVec.Load(Dx + i) + TVec.Load(Dy + i) * TVec.Load(Mask + i));
    }
}
