using System.Runtime.CompilerServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// Per-thread scratch for the convolution drivers: the im2col matrix and its gradient, gathered groups, dW partials. Each ParallelFor worker (and any
/// caller thread) keeps its own grow-only buffers, so a convolution allocates nothing once the buffers have reached the
/// largest layer's size, and two workers never share one. (Thread-static rather than indexed by worker number: it stays
/// correct when a convolution runs inline inside another parallel body or on several threads with their own tapes.)
/// </summary>
internal static class Conv2DScratch
{
    [ThreadStatic] private static float[]? t_columns;
    [ThreadStatic] private static float[]? t_columnGradients;
    [ThreadStatic] private static float[]? t_outputs;
    [ThreadStatic] private static float[]? t_partials;
    [ThreadStatic] private static float[]? t_winogradWeights;
    [ThreadStatic] private static float[]? t_winogradInput;
    [ThreadStatic] private static float[]? t_winogradProducts;
    [ThreadStatic] private static float[]? t_winogradTiles;
    [ThreadStatic] private static float[]? t_winogradMaskedImage;
    [ThreadStatic] private static float[]? t_winogradGradients;
    [ThreadStatic] private static float[]? t_directWeights;

    /// <summary>The im2col buffer of this thread, at least <paramref name="length"/> floats; contents undefined.</summary>
    public static Span<float> Columns(int length) => Get(ref t_columns, length);

    /// <summary>The col-gradient buffer of this thread (backward: Wᵀ·dY before col2im).</summary>
    public static Span<float> ColumnGradients(int length) => Get(ref t_columnGradients, length);

    /// <summary>A buffer for a GEMM result (or gathered gradient) of several images side by side.</summary>
    public static Span<float> Outputs(int length) => Get(ref t_outputs, length);

    /// <summary>
    /// The backward's per-chunk dW/dBias partials, owned by the thread that called the backward (the workers write into
    /// disjoint slices of it through a pointer while that thread waits in ParallelFor).
    /// </summary>
    public static float[] Partials(int length)
    {
        if (t_partials is null || t_partials.Length < length)
            t_partials = GC.AllocateUninitializedArray<float>(Math.Max(length, 1024), pinned: true);
        return t_partials;
    }

    /// <summary>
    /// Winograd U (16, OC, C) of the thread that called the convolution (the workers read it through a pointer while that
    /// thread waits in ParallelFor).
    /// </summary>
    public static Span<float> WinogradWeights(int length) => Get(ref t_winogradWeights, length);

    /// <summary>
    /// The direct dx pass's flipped kernels rot180(Wᵀ), of the thread that called the backward (the workers read them
    /// through a pointer while that thread waits in ParallelFor).
    /// </summary>
    public static Span<float> DirectWeights(int length) => Get(ref t_directWeights, length);

    /// <summary>Winograd V (16, C, tiles) of a group of images.</summary>
    public static Span<float> WinogradInput(int length) => Get(ref t_winogradInput, length);

    /// <summary>Winograd M (16, OC, tiles) of a group of images.</summary>
    public static Span<float> WinogradProducts(int length) => Get(ref t_winogradProducts, length);

    /// <summary>The Winograd transforms' per-plane buffers (row-transform planes, even/odd row, output planes).</summary>
    public static Span<float> WinogradTiles(int length) => Get(ref t_winogradTiles, length);

    /// <summary>One image's dY masked by the ReLU output (fused Conv2D + ReLU backward, Winograd dx).</summary>
    public static Span<float> WinogradMaskedImage(int length) => Get(ref t_winogradMaskedImage, length);

    /// <summary>
    /// The Winograd weight gradient's per-chunk partials (16·OC·C products + OC bias sums per chunk), owned by the thread
    /// that called it (the workers write disjoint slices through a pointer while that thread waits in ParallelFor).
    /// </summary>
    public static float[] WinogradGradients(int length)
    {
        if (t_winogradGradients is null || t_winogradGradients.Length < length)
            t_winogradGradients = GC.AllocateUninitializedArray<float>(Math.Max(length, 1024), pinned: true);
        return t_winogradGradients;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Span<float> Get(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
            buffer = GC.AllocateUninitializedArray<float>(Math.Max(length, 1024));
        return buffer.AsSpan(0, length);
    }
}
