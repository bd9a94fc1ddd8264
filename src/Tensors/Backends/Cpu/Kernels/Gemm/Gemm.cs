namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Single-precision GEMM on row-major spans: C = alpha·op(A)·op(B) + beta·C, op(A) (M, K), op(B) (K, N), C (M, N).
/// lda/ldb/ldc are the row strides of A, B, C as STORED (A stored (K, M) when transposeA).
/// beta = 0 overwrites C without reading it.
/// </summary>
public static class Gemm
{
    // PLACEHOLDER (naive loop) until the packed, register-blocked implementation lands: correct, slow.
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            float sum = 0;
            for (int p = 0; p < k; p++)
                sum += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]);
            ref float cij = ref c[i * ldc + j];
            cij = beta == 0f ? alpha * sum : alpha * sum + beta * cij;
        }
    }
}
