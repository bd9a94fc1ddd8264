using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;


/// <summary>
/// One elementwise kernel, written once: <see cref="Apply{TVec}"/> reads its inputs at element <c>i</c> through its own
/// pointers, computes in <typeparamref name="TVec"/>'s operations and stores its outputs — so unary, binary, ternary and
/// multi-output updates (the optimisers write three arrays) all have the same shape. Implemented by readonly structs; the
/// driver inlines <see cref="Apply{TVec}"/> into one loop per width.
/// </summary>
internal interface IElementwiseKernel
{
    /// <summary>Elements [i, i + TVec.Count).</summary>
    void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec>;
}

/// <summary>
/// The driver of every elementwise kernel: it owns the width dispatch (once per call: 512 &gt; 256 &gt; 128 &gt; scalar, the
/// widest the JIT accelerates), the tails (the remainder steps down 256 → 128 → 1, all the same kernel) and the threading
/// (<see cref="RangeParallel"/> chunks, which depend only on the length). Kernels hold raw pointers: callers pin for the call.
/// </summary>
internal static class ElementwiseDriver
{
    /// <summary>The width Auto means on this machine.</summary>
    public static VectorWidth BestWidth { get; } = VectorWidths.Widest(IsSupported);

    /// <summary>Whether this machine accelerates <paramref name="width"/> (Auto and Scalar always run).</summary>
    public static bool IsSupported(VectorWidth width) => width switch
    {
        VectorWidth.Vector512 => Vector512.IsHardwareAccelerated,
        VectorWidth.Vector256 => Vector256.IsHardwareAccelerated,
        VectorWidth.Vector128 => Vector128.IsHardwareAccelerated,
        VectorWidth.Auto or VectorWidth.Scalar => true,
        _ => false,
    };

    /// <summary>Auto → <see cref="BestWidth"/>; a width the machine does not accelerate is refused (it would run emulated, slowly).</summary>
    public static VectorWidth Resolve(VectorWidth width)
    {
        if (width == VectorWidth.Auto) return BestWidth;
        if (!IsSupported(width))
            throw new ArgumentException($"Vector width {width} is not accelerated on this machine.", nameof(width));
        return width;
    }

    /// <summary>Runs <paramref name="kernel"/> over [0, length), in parallel chunks when the length is large.</summary>
    public static void Run<TKernel>(int length, in TKernel kernel, VectorWidth width) where TKernel : struct, IElementwiseKernel
    {
        var chunks = new Chunks<TKernel> { Kernel = kernel, Width = Resolve(width) };
        RangeParallel.ForElements(length, ref chunks);
    }

    /// <summary>Runs <paramref name="kernel"/> over [0, length) on the calling thread (for callers already inside a parallel loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RunSerial<TKernel>(int length, in TKernel kernel, VectorWidth width) where TKernel : struct, IElementwiseKernel =>
        RunRange(kernel, 0, length, Resolve(width));

    /// <summary>Runs <paramref name="kernel"/> over [start, end) on the calling thread at a width already resolved.</summary>
    public static void RunRange<TKernel>(in TKernel kernel, nint start, nint end, VectorWidth resolvedWidth)
        where TKernel : struct, IElementwiseKernel
    {
        switch (resolvedWidth)
        {
            case VectorWidth.Vector512: Loop<TKernel, F32x16>(kernel, start, end); break;
            case VectorWidth.Vector256: Loop<TKernel, F32x8>(kernel, start, end); break;
            case VectorWidth.Vector128: Loop<TKernel, F32x4>(kernel, start, end); break;
            default: Loop<TKernel, F32x1>(kernel, start, end); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Loop<TKernel, TVec>(in TKernel kernel, nint i, nint end)
        where TKernel : struct, IElementwiseKernel where TVec : struct, IFloatVector<TVec>
    {
        var k = kernel; // a local copy: its pointers and constants can live in registers, not behind the caller's reference
        for (; i <= end - TVec.Count; i += TVec.Count) k.Apply<TVec>(i);
        // Tails step down through the narrower widths (only ever narrower than the one forced, so all accelerated).
        if (TVec.Count > F32x8.Count && i <= end - F32x8.Count) { k.Apply<F32x8>(i); i += F32x8.Count; }
        if (TVec.Count > F32x4.Count && i <= end - F32x4.Count) { k.Apply<F32x4>(i); i += F32x4.Count; }
        for (; i < end; i++) k.Apply<F32x1>(i);
    }

    private struct Chunks<TKernel> : IRangeKernel where TKernel : struct, IElementwiseKernel
    {
        public TKernel Kernel;
        public VectorWidth Width;

        public readonly void Run(int start, int end) => RunRange(Kernel, start, end, Width);
    }
}

/// <summary>A JIT-time switch for kernels that either add into their destination or overwrite it.</summary>
internal interface IDestinationMode
{
    static abstract bool Accumulates { get; }
}

internal readonly struct AddToDestination : IDestinationMode
{
    public static bool Accumulates => true;
}

internal readonly struct OverwriteDestination : IDestinationMode
{
    public static bool Accumulates => false;
}
