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
    /// <see cref="Run"/>, also copying the pieces of <paramref name="copy"/> (a share of the next B̃ block) while it
    /// computes. A kernel may interleave the copies with its FMAs or do them afterwards; the result is the same.
    /// </summary>
    static abstract void RunCopying(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream,
        PackAhead copy);

    /// <summary>Whether <see cref="RunInPlaceA"/> is implemented (otherwise the driver always packs Ã).</summary>
    static virtual bool ReadsAInPlace => false;

    /// <summary>
    /// <see cref="Run"/> with Ã read where it lies: row r of the tile is a[r·lda .. r·lda + kc) (op(A) not transposed).
    /// Bit for bit what Run gives on the same rows packed.
    /// </summary>
    static virtual void RunInPlaceA(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => throw new NotSupportedException("This micro-kernel reads Ã only packed (ReadsAInPlace is false).");
}

/// <summary>
/// Pieces of the next B̃ block for a micro-kernel to pack while its FMAs run. A piece is one row of one whole B̃ panel:
/// NR consecutive values of a row of op(B) (stored (k, n), not transposed) copied to row k of panel j / NR. Pieces are
/// taken row by row, PiecesPerRow to a row, starting at piece Piece of the row Src points into.
/// </summary>
internal unsafe struct PackAhead
{
    /// <summary>op(B) at the first piece, and where that piece goes in the next B̃ block.</summary>
    public float* Src, Dst;
    /// <summary>op(B)'s row stride, and the next block's panel stride (its kc · NR).</summary>
    public nint SrcStride, PanelStride;
    public int PiecesPerRow, Piece;
    /// <summary>Pieces to copy, and the k steps between two of them (spreads the loads over the tile).</summary>
    public int Count, Every;

    /// <summary>Copies all Count pieces at once (kernels that do not interleave, and the pieces no tile took).</summary>
    public readonly void CopyAll(int nr)
    {
        float* src = Src, dst = Dst;
        int piece = Piece;
        for (int i = 0; i < Count; i++)
        {
            Buffer.MemoryCopy(src, dst, nr * sizeof(float), nr * sizeof(float));
            src += nr;
            dst += PanelStride;
            if (++piece == PiecesPerRow)
            {
                piece = 0;
                src += SrcStride - (nint)nr * PiecesPerRow;
                dst += nr - PanelStride * PiecesPerRow;
            }
        }
    }
}

/// <summary>A JIT-time switch: whether a micro-kernel body also copies the pieces of a <see cref="PackAhead"/>.</summary>
internal interface ICopyMode
{
    static abstract bool Enabled { get; }
}

internal readonly struct WithCopy : ICopyMode
{
    public static bool Enabled => true;
}

internal readonly struct WithoutCopy : ICopyMode
{
    public static bool Enabled => false;
}

/// <summary>Which micro-kernel family runs; Auto picks the widest the hardware accelerates.</summary>
internal enum GemmKernelKind
{
    Auto,
    Vector512,
    Vector256,
    /// <summary>128-bit vectors: 12 × 8 on ARM64 NEON, 6 × 8 on x64 without AVX2.</summary>
    Vector128,
    Scalar,
}
