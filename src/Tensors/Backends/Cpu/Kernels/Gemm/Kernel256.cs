using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// The AVX2 micro-kernel (machines without AVX-512): a 6 × 16 tile of C in 12 Vector256 accumulators. Per k step: two
/// loads of B, six broadcasts of A, 12 fused multiply-adds; 12 + 2 + 1 = 15 of the 16 ymm registers.
/// </summary>
internal readonly unsafe struct Kernel256 : IMicroKernel
{
    private const int MRC = 6, NRC = 16;
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

    // a (kc, 6) packed, b (kc, 16) packed -> c (6, 16), row stride ldc
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, bool stream)
    {
        Vector256<float> lo0 = default, hi0 = default;
        Vector256<float> lo1 = default, hi1 = default;
        Vector256<float> lo2 = default, hi2 = default;
        Vector256<float> lo3 = default, hi3 = default;
        Vector256<float> lo4 = default, hi4 = default;
        Vector256<float> lo5 = default, hi5 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            lo0 = Vector256.FusedMultiplyAdd(a0, b0, lo0);
            hi0 = Vector256.FusedMultiplyAdd(a0, b1, hi0);
            var a1 = Vector256.Create(a[1]);
            lo1 = Vector256.FusedMultiplyAdd(a1, b0, lo1);
            hi1 = Vector256.FusedMultiplyAdd(a1, b1, hi1);
            var a2 = Vector256.Create(a[2]);
            lo2 = Vector256.FusedMultiplyAdd(a2, b0, lo2);
            hi2 = Vector256.FusedMultiplyAdd(a2, b1, hi2);
            var a3 = Vector256.Create(a[3]);
            lo3 = Vector256.FusedMultiplyAdd(a3, b0, lo3);
            hi3 = Vector256.FusedMultiplyAdd(a3, b1, hi3);
            var a4 = Vector256.Create(a[4]);
            lo4 = Vector256.FusedMultiplyAdd(a4, b0, lo4);
            hi4 = Vector256.FusedMultiplyAdd(a4, b1, hi4);
            var a5 = Vector256.Create(a[5]);
            lo5 = Vector256.FusedMultiplyAdd(a5, b0, lo5);
            hi5 = Vector256.FusedMultiplyAdd(a5, b1, hi5);
            a += 6;
            b += 16;
        }

        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            (lo0 * va).Store(c + 0 * ldc); (hi0 * va).Store(c + 0 * ldc + 8);
            (lo1 * va).Store(c + 1 * ldc); (hi1 * va).Store(c + 1 * ldc + 8);
            (lo2 * va).Store(c + 2 * ldc); (hi2 * va).Store(c + 2 * ldc + 8);
            (lo3 * va).Store(c + 3 * ldc); (hi3 * va).Store(c + 3 * ldc + 8);
            (lo4 * va).Store(c + 4 * ldc); (hi4 * va).Store(c + 4 * ldc + 8);
            (lo5 * va).Store(c + 5 * ldc); (hi5 * va).Store(c + 5 * ldc + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Scale(c + 0 * ldc, lo0, hi0, va, vb);
            Scale(c + 1 * ldc, lo1, hi1, va, vb);
            Scale(c + 2 * ldc, lo2, hi2, va, vb);
            Scale(c + 3 * ldc, lo3, hi3, va, vb);
            Scale(c + 4 * ldc, lo4, hi4, va, vb);
            Scale(c + 5 * ldc, lo5, hi5, va, vb);
        }
    }

    // c[0..16) = alpha · (x0, x1) + beta · c[0..16)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb)
    {
        Vector256.FusedMultiplyAdd(x0, va, Vector256.Load(c) * vb).Store(c);
        Vector256.FusedMultiplyAdd(x1, va, Vector256.Load(c + 8) * vb).Store(c + 8);
    }
}
