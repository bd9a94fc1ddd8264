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
}

/// <summary>Which micro-kernel family runs; Auto picks the widest the hardware accelerates.</summary>
internal enum GemmKernelKind
{
    Auto,
    Vector512,
    Vector256,
    Scalar,
}
