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
        int n = y.Length, i = 0;
        ref float yRef = ref MemoryMarshal.GetReference(y);
        ref float dyRef = ref MemoryMarshal.GetReference(dy);
        ref float dxRef = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var keep = Vector512.GreaterThan(Vector512.LoadUnsafe(ref yRef, (nuint)i), Vector512<float>.Zero);
                var g = Vector512.LoadUnsafe(ref dyRef, (nuint)i) & keep.AsSingle();
                (Vector512.LoadUnsafe(ref dxRef, (nuint)i) + g).StoreUnsafe(ref dxRef, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var keep = Vector256.GreaterThan(Vector256.LoadUnsafe(ref yRef, (nuint)i), Vector256<float>.Zero);
                var g = Vector256.LoadUnsafe(ref dyRef, (nuint)i) & keep.AsSingle();
                (Vector256.LoadUnsafe(ref dxRef, (nuint)i) + g).StoreUnsafe(ref dxRef, (nuint)i);
            }
        }
        for (; i < n; i++)
            if (Unsafe.Add(ref yRef, i) > 0f) Unsafe.Add(ref dxRef, i) += Unsafe.Add(ref dyRef, i);
    }
}
