using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Tensors.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void MatMul(Tensor a, bool transposeA, Tensor b, bool transposeB, Tensor c, float alpha, float beta)
    {
        // Stored shapes: a (M, K) or (K, M) when transposed; b (K, N) or (N, K); c (M, N).
        int m = c.Shape[0], n = c.Shape[1];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        Gemm.Run(transposeA, transposeB, m, n, k, alpha, a.Span, a.Shape[1], b.Span, b.Shape[1], beta, c.Span, n);
    }
}
