using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void MatMul(Tensor a, bool transposeA, Tensor b, bool transposeB, Tensor c, float alpha, float beta)
    {
        // Stored shapes: a (M, K) or (K, M) when transposed; b (K, N) or (N, K); c (M, N).
        int m = c.Shape[0], n = c.Shape[1];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        // BLAS convention: a leading dimension is at least 1, even for an empty (rows, 0) operand.
        Sgemm.Run(transposeA, transposeB, m, n, k, alpha,
            a.Span, Math.Max(1, a.Shape[1]), b.Span, Math.Max(1, b.Shape[1]), beta, c.Span, Math.Max(1, n));
    }
}
