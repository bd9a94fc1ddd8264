using System.Runtime.CompilerServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// The portable micro-kernel (no SIMD acceleration): a 4 × 4 tile in 16 scalar accumulators, same packed layouts as the
/// vector kernels so the whole driver is shared.
/// </summary>
internal readonly unsafe struct KernelScalar : IMicroKernel
{
    private const int MRC = 4, NRC = 4;
    public static int MR => MRC;
    public static int NR => NRC;

    // The copies after the tile, not interleaved: the AVX2 and scalar kernels run where the AVX-512 tuning does not apply.
    public static void RunCopying(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream,
        PackAhead copy)
    {
        Run(kc, a, b, c, ldc, alpha, beta, stream);
        copy.CopyAll(NR);
    }

    /// <summary>Edge tile: the full kernel into scratch, clipped into c.</summary>
    public static void Edge(nint kc, int rows, int cols, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        float* tile = stackalloc float[MRC * NRC];
        Run(kc, a, b, tile, NRC, 1f, 0f, false);
        GemmEdges.MergeTile(tile, NRC, c, ldc, rows, cols, alpha, beta);
    }

    // a (kc, 4) packed, b (kc, 4) packed -> c (4, 4), row stride ldc
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => Tile<PackedA>(kc, a, 0, b, c, ldc, alpha, beta);

    public static bool ReadsAInPlace => true;

    // Row r at a + r·lda: the same products in the same order as Run over the packed panel.
    public static void RunInPlaceA(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
        => Tile<InPlaceA>(kc, a, lda, b, c, ldc, alpha, beta);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TA>(nint kc, float* a, nint lda, float* b, float* c, nint ldc, float alpha, float beta)
        where TA : struct, IALayout
    {
        nint rowStride = TA.InPlace ? lda : 1;
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (nint p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[rowStride], a2 = a[2 * rowStride], a3 = a[3 * rowStride];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += TA.InPlace ? 1 : 4;
            b += 4;
        }
        Row(c, c00, c01, c02, c03, alpha, beta);
        Row(c + ldc, c10, c11, c12, c13, alpha, beta);
        Row(c + 2 * ldc, c20, c21, c22, c23, alpha, beta);
        Row(c + 3 * ldc, c30, c31, c32, c33, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* c, float x0, float x1, float x2, float x3, float alpha, float beta)
    {
        if (beta == 0f)
        {
            c[0] = alpha * x0; c[1] = alpha * x1; c[2] = alpha * x2; c[3] = alpha * x3;
        }
        else
        {
            c[0] = alpha * x0 + beta * c[0]; c[1] = alpha * x1 + beta * c[1];
            c[2] = alpha * x2 + beta * c[2]; c[3] = alpha * x3 + beta * c[3];
        }
    }
}

/// <summary>Scalar helpers for the parts of C that are not whole micro-tiles.</summary>
internal static unsafe class GemmEdges
{
    /// <summary>
    /// tile (rows, cols) with row stride tileStride -> c (rows, cols): c = alpha · tile + beta · c (beta = 0: c not read).
    /// Used for the right and bottom edges, where the micro-kernel wrote a full MR × NR tile into scratch.
    /// </summary>
    public static void MergeTile(float* tile, nint tileStride, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            float* t = tile + r * tileStride;
            float* d = c + r * ldc;
            if (beta == 0f)
                for (int j = 0; j < cols; j++) d[j] = alpha * t[j];
            else
                for (int j = 0; j < cols; j++) d[j] = alpha * t[j] + beta * d[j];
        }
    }

    /// <summary>c (m, n) = beta · c; beta = 0 writes zeros without reading (k = 0 or alpha = 0).</summary>
    public static void ScaleC(float* c, nint ldc, int m, int n, float beta)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }
}
