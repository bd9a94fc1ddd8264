using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// The ReLU half of a fused Conv2D + ReLU backward: the conv's upstream gradient is dY masked by the ReLU's output.
/// </summary>
public static class Conv2DReluMask
{
    /// <summary>
    /// masked = 0 + (dy where y &gt; 0, else 0); all three the same length (masked may alias dy). Exactly what
    /// <see cref="Relu.Backward"/> accumulates into a zero-filled gradient (the rule ReLU'(0) = 0, NaN y → 0, and the
    /// "0 +" that turns a −0 into +0), so the fused and the unfused backward feed bitwise the same dY to the convolution.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> masked)
    {
        if (y.Length != dy.Length || masked.Length != dy.Length)
            throw new ArgumentException("Conv2DReluMask.Apply: y, dy and masked must have the same length.");
        int n = y.Length, i = 0;
        ref float yRef = ref MemoryMarshal.GetReference(y);
        ref float dyRef = ref MemoryMarshal.GetReference(dy);
        ref float outRef = ref MemoryMarshal.GetReference(masked);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var keep = Vector512.GreaterThan(Vector512.LoadUnsafe(ref yRef, (nuint)i), Vector512<float>.Zero);
                (Vector512<float>.Zero + (Vector512.LoadUnsafe(ref dyRef, (nuint)i) & keep)).StoreUnsafe(ref outRef, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var keep = Vector256.GreaterThan(Vector256.LoadUnsafe(ref yRef, (nuint)i), Vector256<float>.Zero);
                (Vector256<float>.Zero + (Vector256.LoadUnsafe(ref dyRef, (nuint)i) & keep)).StoreUnsafe(ref outRef, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float zero = 0f;
            Unsafe.Add(ref outRef, i) = Unsafe.Add(ref yRef, i) > 0f ? zero + Unsafe.Add(ref dyRef, i) : zero;
        }
    }
}
