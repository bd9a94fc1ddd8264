namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// A register-blocked micro-kernel: C(MR × NR) = alpha · Ã·B̃ + beta · C over one packed A panel (kc × MR, k-major) and
/// one packed B panel (kc × NR, k-major). Implemented by structs so the driver is specialised (and the tile sizes are JIT
/// constants) per kernel.
/// </summary>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of C per tile (rows of a packed A panel).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per tile (columns of a packed B panel).</summary>
    static abstract int NR { get; }

    /// <summary>
    /// a (kc, MR) packed, b (kc, NR) packed -> c (MR, NR) with row stride ldc.
    /// beta == 0 writes c without reading it; beta == 1 accumulates. stream: c is 64-byte aligned (rows too) and may be
    /// written with non-temporal stores (a kernel is free to ignore it).
    /// </summary>
    static abstract void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream);

    /// <summary>The same for an edge tile: only rows ≤ MR, cols ≤ NR of c are written (packed panels stay full size).</summary>
    static abstract void Edge(nint kc, int rows, int cols, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream);

    /// <summary>
    /// <see cref="Run"/>, issuing the prefetches of <paramref name="prefetch"/> while it computes (a kernel is free to
    /// ignore them).
    /// </summary>
    static abstract void RunPrefetching(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream,
        PrefetchLines prefetch);
}

/// <summary>
/// Cache lines for a micro-kernel to prefetch while its FMAs run, one per k step: Count 64-byte lines taken row by row,
/// LinesPerRow of them from Row (starting at line Column), then from the next row, Stride floats further.
/// </summary>
internal unsafe struct PrefetchLines
{
    public float* Row;
    public nint Stride;
    public int LinesPerRow, Column, Count;
}

/// <summary>A JIT-time switch: whether a micro-kernel body issues the prefetches of a <see cref="PrefetchLines"/>.</summary>
internal interface IPrefetchMode
{
    static abstract bool Enabled { get; }
}

internal readonly struct WithPrefetch : IPrefetchMode
{
    public static bool Enabled => true;
}

internal readonly struct WithoutPrefetch : IPrefetchMode
{
    public static bool Enabled => false;
}

/// <summary>Which micro-kernel family runs; Auto picks the widest the hardware accelerates.</summary>
internal enum GemmKernelKind
{
    Auto,
    Vector512,
    Vector256,
    Scalar,
}
