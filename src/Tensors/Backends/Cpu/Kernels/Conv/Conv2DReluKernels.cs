using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// The ReLU halves of a fused Conv2D + ReLU, run on one output row / plane (or one image group's gradient) while it is in
/// cache. Both are bitwise what the separate ReLU kernels (<see cref="Relu"/>) compute, so fusing changes no number. They are
/// marked AggressiveOptimization: called thousands of times per step on short rows, they must not run as tier-0 code
/// through the first steps of a run (a per-row TensorPrimitives call measurably did).
/// </summary>
public static class Conv2DReluKernels
{
    /// <summary>
    /// dst = max(src + bias, 0), same length (dst may alias src): the bias add of the convolution, then ReLU with the rules of
    /// <see cref="Relu.Forward"/> (TensorPrimitives.Max(v, 0)): a NaN stays that NaN, −0 becomes +0. Bias 0 is plain ReLU
    /// (v + 0 differs from v only for v = −0, which ReLU maps to +0 anyway).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BiasRelu(ReadOnlySpan<float> src, float bias, Span<float> dst)
    {
        if (dst.Length != src.Length)
            throw new ArgumentException("Conv2DReluKernels.BiasRelu: src and dst must have the same length.");
        int n = src.Length, i = 0;
        ref float srcRef = ref MemoryMarshal.GetReference(src);
        ref float dstRef = ref MemoryMarshal.GetReference(dst);
        // v & ~(v <= 0): keeps positives and NaN (every comparison with NaN is false), zeroes the rest to +0.
        if (Vector512.IsHardwareAccelerated)
        {
            var b = Vector512.Create(bias);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var v = Vector512.LoadUnsafe(ref srcRef, (nuint)i) + b;
                Vector512.AndNot(v, Vector512.LessThanOrEqual(v, Vector512<float>.Zero)).StoreUnsafe(ref dstRef, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var b = Vector256.Create(bias);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref srcRef, (nuint)i) + b;
                Vector256.AndNot(v, Vector256.LessThanOrEqual(v, Vector256<float>.Zero)).StoreUnsafe(ref dstRef, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref srcRef, i) + bias;
            Unsafe.Add(ref dstRef, i) = v <= 0f ? 0f : v;
        }
    }

    /// <summary>
    /// masked = 0 + (dy where y &gt; 0, else 0): the conv's upstream gradient in a fused backward; all three the same length (masked may alias dy). Exactly what
    /// <see cref="Relu.Backward"/> accumulates into a zero-filled gradient (the rule ReLU'(0) = 0, NaN y → 0, and the
    /// "0 +" that turns a −0 into +0), so the fused and the unfused backward feed bitwise the same dY to the convolution.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaskGradient(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> masked)
    {
        if (y.Length != dy.Length || masked.Length != dy.Length)
            throw new ArgumentException("Conv2DReluKernels.MaskGradient: y, dy and masked must have the same length.");
        Relu.AddMasked(y, dy, masked, accumulate: false);
    }
}
