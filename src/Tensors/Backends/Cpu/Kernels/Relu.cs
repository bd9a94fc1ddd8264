using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// ReLU kernels: plain span math, no tape. One source per kernel over <see cref="ElementwiseDriver"/>, so every width gives
/// the same bits. NaN and ±0: forward y = max(x, 0) in IEEE 754:2019 form (TensorPrimitives.Max's): NaN stays NaN, −0 → +0.
/// Backward keeps dy where y &gt; 0 only, so y = NaN, +0 or −0 passes no gradient; a kept dy keeps its bits (NaN included).
/// </summary>
public static unsafe class Relu
{
    /// <summary>y = max(x, 0); x, y same length (y may alias x). NaN stays NaN.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y) => Forward(x, y, VectorWidth.Auto);

    internal static void Forward(ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        if (y.Length != x.Length)
            throw new ArgumentException("Relu.Forward: x and y must have the same length.");
        fixed (float* px = x, py = y)
            ElementwiseDriver.Run(x.Length, new ForwardKernel { X = px, Y = py }, width);
    }

    /// <summary>dx += dy where y &gt; 0; all three the same length.</summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) => Backward(y, dy, dx, VectorWidth.Auto);

    internal static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, VectorWidth width)
    {
        if (y.Length != dy.Length || dx.Length != dy.Length)
            throw new ArgumentException("Relu.Backward: y, dy and dx must have the same length.");
        fixed (float* py = y, pdy = dy, pdx = dx)
            ElementwiseDriver.Run(y.Length, new MaskKernel<AddToDestination> { Y = py, Dy = pdy, Dst = pdx }, width);
    }

    /// <summary>
    /// dst = (accumulate ? dst : 0) + (dy where y &gt; 0, else 0): the ReLU backward (accumulate) and, into a fresh buffer, the
    /// masked upstream gradient of a fused Conv2D+ReLU (<see cref="Conv2DReluKernels.MaskGradient"/>) — one kernel, so the
    /// two give bitwise the same numbers. dst may alias dy. Runs on the calling thread (its conv callers are already inside
    /// a parallel loop). Inlined with a constant <paramref name="accumulate"/>, so each caller gets one kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddMasked(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dst, bool accumulate) =>
        AddMasked(y, dy, dst, accumulate, VectorWidth.Auto);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddMasked(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dst, bool accumulate, VectorWidth width)
    {
        if (y.Length != dy.Length || dst.Length != dy.Length)
            throw new ArgumentException("Relu.AddMasked: y, dy and dst must have the same length.");
        fixed (float* py = y, pdy = dy, pdst = dst)
        {
            if (accumulate) ElementwiseDriver.RunSerial(y.Length, new MaskKernel<AddToDestination> { Y = py, Dy = pdy, Dst = pdst }, width);
            else ElementwiseDriver.RunSerial(y.Length, new MaskKernel<OverwriteDestination> { Y = py, Dy = pdy, Dst = pdst }, width);
        }
    }

    private readonly struct ForwardKernel : IElementwiseKernel
    {
        public float* X { get; init; }
        public float* Y { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec> =>
            TVec.Store(Y + i, TVec.Max(TVec.Load(X + i), TVec.Broadcast(0f)));
    }

    /// <summary>dst = (accumulate ? dst : 0) + (dy and the mask y &gt; 0): the "0 +" turns a kept −0 into +0, as the scalar rule did.</summary>
    private readonly struct MaskKernel<TMode> : IElementwiseKernel where TMode : struct, IDestinationMode
    {
        public float* Y { get; init; }
        public float* Dy { get; init; }
        public float* Dst { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec>
        {
            var zero = TVec.Broadcast(0f);
            var kept = TVec.And(TVec.Load(Dy + i), TVec.GreaterThan(TVec.Load(Y + i), zero));
            var start = TMode.Accumulates ? TVec.Load(Dst + i) : zero;
            TVec.Store(Dst + i, start + kept);
        }
    }
}
