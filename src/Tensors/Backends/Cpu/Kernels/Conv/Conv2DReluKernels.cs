using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    /// (v + 0 differs from v only for v = −0, which ReLU maps to +0 anyway). <paramref name="width"/>: Auto takes
    /// <see cref="ConvVectors.Best"/>; tests force each width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BiasRelu(ReadOnlySpan<float> src, float bias, Span<float> dst, VectorWidth width = VectorWidth.Auto)
    {
        if (dst.Length != src.Length)
            throw new ArgumentException("Conv2DReluKernels.BiasRelu: src and dst must have the same length.");
        var step = new BiasReluStep { Src = src, Bias = bias, Dst = dst };
        ConvVectors.Run(ConvVectors.Resolve(width, "Conv2DReluKernels"), ref step);
    }

    private ref struct BiasReluStep : IConvVectorStep
    {
        public ReadOnlySpan<float> Src;
        public Span<float> Dst;
        public float Bias;

        public readonly void Run<TVec>() where TVec : struct, IConvVector<TVec> => BiasRelu<TVec>(Src, Bias, Dst);
    }

    // Whole vectors of TVec, then narrower steps down to 128 bits (rows of 8..15 floats), then scalars: every element
    // gets the same two operations whatever the step, so the width never changes a bit.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BiasRelu<TVec>(ReadOnlySpan<float> src, float bias, Span<float> dst) where TVec : struct, IConvVector<TVec>
    {
        int n = src.Length;
        ref float srcRef = ref MemoryMarshal.GetReference(src);
        ref float dstRef = ref MemoryMarshal.GetReference(dst);
        int i = BiasReluSteps<TVec>(ref srcRef, bias, ref dstRef, 0, n);
        if (TVec.Count > 8) i = BiasReluSteps<Vec256>(ref srcRef, bias, ref dstRef, i, n);
        if (TVec.Count > 4) i = BiasReluSteps<Vec128>(ref srcRef, bias, ref dstRef, i, n);
        if (TVec.Count > 1) BiasReluSteps<VecScalar>(ref srcRef, bias, ref dstRef, i, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BiasReluSteps<TVec>(ref float src, float bias, ref float dst, int i, int n) where TVec : struct, IConvVector<TVec>
    {
        var b = TVec.Broadcast(bias);
        for (; i <= n - TVec.Count; i += TVec.Count)
            TVec.Store(ref dst, (nuint)i, TVec.Relu(TVec.Load(ref src, (nuint)i) + b));
        return i;
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
