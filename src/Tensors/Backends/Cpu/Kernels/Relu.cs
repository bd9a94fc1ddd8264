using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>ReLU kernels: plain span math, no tape.</summary>
public static class Relu
{
    /// <summary>y = max(x, 0); x, y same length (y may alias x). NaN stays NaN.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);

    /// <summary>dx += dy where y &gt; 0; all three the same length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (y.Length != dy.Length || dx.Length != dy.Length)
            throw new ArgumentException("Relu.Backward: y, dy and dx must have the same length.");
        AddMasked(y, dy, dx, accumulate: true);
    }

    /// <summary>
    /// dst = (accumulate ? dst : 0) + (dy where y &gt; 0, else 0): the ReLU backward (accumulate) and, into a fresh buffer, the
    /// masked upstream gradient of a fused Conv2D+ReLU (<see cref="Conv2DReluKernels.MaskGradient"/>) — one loop, so the two
    /// give bitwise the same numbers. Lengths checked by the callers; dst may alias dy. Inlined with a constant
    /// <paramref name="accumulate"/>, so each caller gets its own branch-free loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddMasked(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dst, bool accumulate)
    {
        int n = y.Length, i = 0;
        ref float yRef = ref MemoryMarshal.GetReference(y);
        ref float dyRef = ref MemoryMarshal.GetReference(dy);
        ref float dstRef = ref MemoryMarshal.GetReference(dst);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var keep = Vector512.GreaterThan(Vector512.LoadUnsafe(ref yRef, (nuint)i), Vector512<float>.Zero);
                var g = Vector512.LoadUnsafe(ref dyRef, (nuint)i) & keep;
                var start = accumulate ? Vector512.LoadUnsafe(ref dstRef, (nuint)i) : Vector512<float>.Zero;
                (start + g).StoreUnsafe(ref dstRef, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var keep = Vector256.GreaterThan(Vector256.LoadUnsafe(ref yRef, (nuint)i), Vector256<float>.Zero);
                var g = Vector256.LoadUnsafe(ref dyRef, (nuint)i) & keep;
                var start = accumulate ? Vector256.LoadUnsafe(ref dstRef, (nuint)i) : Vector256<float>.Zero;
                (start + g).StoreUnsafe(ref dstRef, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float g = Unsafe.Add(ref yRef, i) > 0f ? Unsafe.Add(ref dyRef, i) : 0f;
            Unsafe.Add(ref dstRef, i) = (accumulate ? Unsafe.Add(ref dstRef, i) : 0f) + g;
        }
    }
}
