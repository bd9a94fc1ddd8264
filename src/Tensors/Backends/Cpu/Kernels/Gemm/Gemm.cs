using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Single-precision GEMM on row-major spans: C = alpha·op(A)·op(B) + beta·C, op(A) (M, K), op(B) (K, N), C (M, N).
/// lda/ldb/ldc are the row strides of A, B, C as STORED (A stored (K, M) when transposeA, B stored (N, K) when
/// transposeB). beta = 0 overwrites C without reading it (NaN garbage in C is replaced).
///
/// Packed and cache-blocked (see <see cref="GemmDriver"/>), a 12 × 32 AVX-512 or 6 × 16 AVX2 register-blocked
/// micro-kernel, parallel over <see cref="ParallelFor"/> (inline, single-threaded, when called from a parallel body).
/// </summary>
public static class Gemm
{
    /// <summary>
    /// True where the AVX-512 micro-kernel runs. Not just Vector512.IsHardwareAccelerated: on Intel parts that down-clock
    /// under 512-bit code (Skylake-X, Cascade Lake) .NET reports Vector512 as not accelerated although every Vector512
    /// operation still compiles to AVX-512; a GEMM doubles its flops per instruction there, which outweighs the lower clock.
    /// </summary>
    internal static readonly bool UseVector512 = Vector512.IsHardwareAccelerated
        || (Avx512F.IsSupported && Avx512F.VL.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported);

    // a (M, K) or stored (K, M) when transposeA; b (K, N) or stored (N, K) when transposeB -> c (M, N)
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Run(GemmKernelKind.Auto, ParallelFor.ThreadCount, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// The same, forcing a micro-kernel family and a thread budget (tests run every family the machine can execute, and
    /// check that the result does not depend on the thread count).
    /// </summary>
    internal static unsafe void Run(GemmKernelKind kind, int threads, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Gemm: dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        CheckOperand("a", transposeA ? k : m, transposeA ? m : k, a.Length, lda, transposeA, "lda");
        CheckOperand("b", transposeB ? n : k, transposeB ? k : n, b.Length, ldb, transposeB, "ldb");
        CheckOperand("c", m, n, c.Length, ldc, false, "ldc");
        if (m == 0 || n == 0) return;

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var g = new GemmArgs
            {
                TransposeA = transposeA, TransposeB = transposeB, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
                A = pa, Lda = lda, B = pb, Ldb = ldb, C = pc, Ldc = ldc,
            };
            Execute(kind == GemmKernelKind.Auto ? AutoKind : kind, g, threads);
        }
    }

    /// <summary>A validated, non-empty call: C = beta·C when there is nothing to multiply, else the driver of the kernel.</summary>
    private static unsafe void Execute(GemmKernelKind kind, in GemmArgs g, int threads)
    {
        if (g.K == 0 || g.Alpha == 0f)
        {
            GemmEdges.ScaleC(g.C, g.Ldc, g.M, g.N, g.Beta);
            return;
        }
        switch (kind)
        {
            case GemmKernelKind.Vector512: GemmDriver.Run<Kernel512>(g, threads); break;
            case GemmKernelKind.Vector256: GemmDriver.Run<Kernel256>(g, threads); break;
            default: GemmDriver.Run<KernelScalar>(g, threads); break;
        }
    }

    /// <summary>
    /// Columns per packed B panel of the micro-kernel <see cref="Run(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// picks on this machine: the panel width a caller of <see cref="RunPrepackedB"/> lays its B out in.
    /// </summary>
    internal static int PackedPanelWidth => AutoKind switch
    {
        GemmKernelKind.Vector512 => Kernel512.NR,
        GemmKernelKind.Vector256 => Kernel256.NR,
        _ => KernelScalar.NR,
    };

    private static GemmKernelKind AutoKind =>
        UseVector512 ? GemmKernelKind.Vector512 : Vector256.IsHardwareAccelerated ? GemmKernelKind.Vector256 : GemmKernelKind.Scalar;

    /// <summary>
    /// C (m, n) = alpha·A·B̃ + beta·C with B̃ already in the micro-kernel's packed layout, so the GEMM reads it in place
    /// instead of packing: for a producer that can write its output straight into panels (the Winograd input transform),
    /// this saves a copy of all of B per call. Layout: ⌈n/w⌉ panels of w = <see cref="PackedPanelWidth"/> columns, panel jp
    /// at packedB[jp·k·w ..], element (kk, j) of the panel at [kk·w + j]; columns past n are never stored to C (their
    /// values may be anything). A (m, k) row-major with row stride lda, not transposed.
    /// </summary>
    internal static unsafe void RunPrepackedB(int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        float* packedB, long packedLength, float beta, Span<float> c, int ldc, int threads)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Gemm: dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        CheckOperand("a", m, k, a.Length, lda, false, "lda");
        CheckOperand("c", m, n, c.Length, ldc, false, "ldc");
        int w = PackedPanelWidth;
        long needed = (long)(n + w - 1) / w * k * w;
        if (packedLength < needed)
            throw new ArgumentException($"Gemm: a pre-packed B of {k} × {n} in {w}-wide panels needs {needed} floats, got {packedLength}.", nameof(packedLength));
        if (m == 0 || n == 0) return;
        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            var g = new GemmArgs
            {
                M = m, N = n, K = k, Alpha = alpha, Beta = beta, A = pa, Lda = lda, C = pc, Ldc = ldc, PackedB = packedB,
            };
            Execute(AutoKind, g, threads);
        }
    }

    /// <summary>True when this machine can run the given kernel family.</summary>
    internal static bool IsSupported(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Vector512 => UseVector512,
        GemmKernelKind.Vector256 => Vector256.IsHardwareAccelerated,
        _ => true,
    };

    private static void CheckOperand(string name, int rows, int cols, int length, int stride, bool transposed, string strideName)
    {
        if (rows == 0 || cols == 0) return; // an empty operand is never read, whatever its stride
        // The description is built only when a check fails: a GEMM call on the hot path allocates nothing.
        if (stride < cols)
            throw new ArgumentException($"Gemm: {strideName}={stride} is shorter than a row of {Describe(name, rows, cols, transposed)}; pass {strideName} ≥ {cols}.", strideName);
        long needed = (long)(rows - 1) * stride + cols;
        if (length < needed)
            throw new ArgumentException($"Gemm: {Describe(name, rows, cols, transposed)} with {strideName}={stride} needs {needed} floats but the span holds {length}.", name);
    }

    private static string Describe(string name, int rows, int cols, bool transposed) =>
        $"{name} stored ({rows}, {cols}){(transposed ? " (transposed operand)" : "")}";
}
