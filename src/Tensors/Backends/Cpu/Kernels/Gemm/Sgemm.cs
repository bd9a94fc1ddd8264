using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

// The Vector256 and Vector128 kernels: one source (VectorKernel), one tile shape per register file.
using Kernel256 = VectorKernel<GemmVector256, Vector256<float>, Rows6>;
using Kernel128 = VectorKernel<GemmVector128, Vector128<float>, Rows6>;
using Kernel128Arm64 = VectorKernel<GemmVector128, Vector128<float>, Rows12>;

/// <summary>
/// Single-precision GEMM on row-major spans: C = alpha·op(A)·op(B) + beta·C, op(A) (M, K), op(B) (K, N), C (M, N).
/// lda/ldb/ldc are the row strides of A, B, C as STORED (A stored (K, M) when transposeA, B stored (N, K) when
/// transposeB). beta = 0 overwrites C without reading it (NaN garbage in C is replaced).
///
/// Packed and cache-blocked for this machine's L1d and L2 (see <see cref="GemmDriver"/>, <see cref="GemmBlocking"/>), a
/// 12 × 32 AVX-512, 6 × 16 AVX2, 12 × 8 NEON or 6 × 8 SSE/AVX register-blocked micro-kernel, parallel over <see cref="ParallelFor"/> (inline, single-threaded, when called from a parallel body).
/// </summary>
public static class Sgemm
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
    internal static void Run(GemmKernelKind kind, int threads, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Run(kind, threads, CpuCaches.Current, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>The same, blocked for the given cache sizes instead of this machine's (tests: tiny, huge and odd caches).</summary>
    internal static void Run(GemmKernelKind kind, int threads, CpuCaches caches, bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        switch (kind == GemmKernelKind.Auto ? AutoKind : kind)
        {
            case GemmKernelKind.Vector512:
                Run<Kernel512>(threads, caches, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            case GemmKernelKind.Vector256:
                Run<Kernel256>(threads, caches, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            case GemmKernelKind.Vector128 when GemmVector128.HasLaneMultiplyAdd:
                Run<Kernel128Arm64>(threads, caches, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            case GemmKernelKind.Vector128:
                Run<Kernel128>(threads, caches, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            default:
                Run<KernelScalar>(threads, caches, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
        }
    }

    /// <summary>The same with one given micro-kernel (tests: the ARM64 12 × 8 tile shape, run on x64 by broadcasts).</summary>
    internal static unsafe void Run<TKernel>(int threads, CpuCaches caches, bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        where TKernel : struct, IMicroKernel
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
            Execute<TKernel>(g, threads, caches);
        }
    }

    /// <summary>A validated, non-empty call: C = beta·C when there is nothing to multiply, else the driver of the kernel.</summary>
    private static unsafe void Execute<TKernel>(in GemmArgs g, int threads, CpuCaches caches) where TKernel : struct, IMicroKernel
    {
        if (g.K == 0 || g.Alpha == 0f)
        {
            GemmEdges.ScaleC(g.C, g.Ldc, g.M, g.N, g.Beta);
            return;
        }
        GemmDriver.Run<TKernel>(g, threads, GemmBlocking.For<TKernel>(caches));
    }

    /// <summary>
    /// Columns per packed B panel of the micro-kernel <see cref="Run(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// picks on this machine: the panel width a caller of <see cref="RunPrepackedB"/> lays its B out in.
    /// </summary>
    internal static int PackedPanelWidth => PanelWidth(AutoKind);

    /// <summary>Columns per packed B panel of a kernel family (8 for both Vector128 shapes).</summary>
    internal static int PanelWidth(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Vector512 => Kernel512.NR,
        GemmKernelKind.Vector256 => Kernel256.NR,
        GemmKernelKind.Vector128 => Kernel128.NR,
        _ => KernelScalar.NR,
    };

    /// <summary>The widest family the hardware accelerates: AVX-512, then AVX2, then 128-bit (NEON, SSE/AVX), then scalar.</summary>
    internal static GemmKernelKind AutoKind =>
        UseVector512 ? GemmKernelKind.Vector512
        : Vector256.IsHardwareAccelerated ? GemmKernelKind.Vector256
        : Vector128.IsHardwareAccelerated ? GemmKernelKind.Vector128
        : GemmKernelKind.Scalar;

    /// <summary>
    /// The blocking the public entry point uses on this machine, for run headers:
    /// "AVX2 6 × 16: Kc 512, Nc 128 (L1d 32 KiB, L2 512 KiB, sysfs)".
    /// </summary>
    public static string Blocking => Describe(AutoKind, CpuCaches.Current);

    /// <summary>A kernel family's tile and its blocking for the given caches.</summary>
    internal static string Describe(GemmKernelKind kind, CpuCaches caches) => kind switch
    {
        GemmKernelKind.Vector512 => Describe<Kernel512>("AVX-512", caches),
        GemmKernelKind.Vector256 => Describe<Kernel256>("AVX2", caches),
        GemmKernelKind.Vector128 when GemmVector128.HasLaneMultiplyAdd => Describe<Kernel128Arm64>("Vector128 (NEON)", caches),
        GemmKernelKind.Vector128 => Describe<Kernel128>("Vector128 (SSE)", caches),
        GemmKernelKind.Auto => Describe(AutoKind, caches),
        _ => Describe<KernelScalar>("scalar", caches),
    };

    private static string Describe<TKernel>(string name, CpuCaches caches) where TKernel : struct, IMicroKernel =>
        $"{name} {TKernel.MR} × {TKernel.NR}: {GemmBlocking.For<TKernel>(caches).Describe()}";

    /// <summary>
    /// C (m, n) = alpha·A·B̃ + beta·C with B̃ already in the micro-kernel's packed layout, so the GEMM reads it in place
    /// instead of packing: for a producer that can write its output straight into panels (the Winograd input transform),
    /// this saves a copy of all of B per call. Layout: ⌈n/w⌉ panels of w = <see cref="PackedPanelWidth"/> columns, panel jp
    /// at packedB[jp·k·w ..], element (kk, j) of the panel at [kk·w + j]; columns past n are never stored to C (their
    /// values may be anything). A (m, k) row-major with row stride lda, not transposed.
    /// </summary>
    internal static unsafe void RunPrepackedB(int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        float* packedB, long packedLength, float beta, Span<float> c, int ldc, int threads)
        => RunPrepackedB(AutoKind, CpuCaches.Current, m, n, k, alpha, a, lda, packedB, packedLength, beta, c, ldc, threads);

    /// <summary>
    /// A weight matrix op(A) (m, k) packed once in the layout this machine's GEMM streams (<see cref="PackA"/>), for
    /// <see cref="RunPrepackedA"/>: an inference convolution's kernels, packed per weight version instead of per call.
    /// </summary>
    public sealed class PackedMatrix
    {
        internal PackedMatrix(int m, int k, GemmKernelKind kind, CpuCaches caches, float[] values)
        {
            M = m; K = k; Kind = kind; Caches = caches; Values = values;
        }

        public int M { get; }
        public int K { get; }
        internal GemmKernelKind Kind { get; }
        internal CpuCaches Caches { get; }
        internal float[] Values { get; }
    }

    /// <summary>a (m, k) row-major with row stride lda, packed for this machine's kernel (into <paramref name="into"/> when it fits).</summary>
    internal static PackedMatrix PackA(ReadOnlySpan<float> a, int m, int k, int lda, PackedMatrix? into = null)
    {
        if (m < 1 || k < 1 || lda < k || a.Length < (long)(m - 1) * lda + k)
            throw new ArgumentException($"Sgemm.PackA: a {a.Length} (lda {lda}) does not fit {m} × {k}.");
        var kind = AutoKind;
        var caches = CpuCaches.Current;
        return kind switch
        {
            GemmKernelKind.Vector512 => PackA<Kernel512>(a, m, k, lda, kind, caches, into),
            GemmKernelKind.Vector256 => PackA<Kernel256>(a, m, k, lda, kind, caches, into),
            GemmKernelKind.Vector128 when GemmVector128.HasLaneMultiplyAdd => PackA<Kernel128Arm64>(a, m, k, lda, kind, caches, into),
            GemmKernelKind.Vector128 => PackA<Kernel128>(a, m, k, lda, kind, caches, into),
            _ => PackA<KernelScalar>(a, m, k, lda, kind, caches, into),
        };
    }

    private static unsafe PackedMatrix PackA<TKernel>(ReadOnlySpan<float> a, int m, int k, int lda, GemmKernelKind kind, CpuCaches caches,
        PackedMatrix? into) where TKernel : struct, IMicroKernel
    {
        fixed (float* pa = a)
        {
            var g = new GemmArgs { M = m, N = 1, K = k, Alpha = 1f, A = pa, Lda = lda };
            // The plan's K blocking and panel count depend on M, K and the blocking only (not on N or the threads).
            var plan = GemmDriver.MakePlan<TKernel>(g, threads: 1, GemmBlocking.For<TKernel>(caches));
            long length = (long)plan.MPad * k;
            var values = into is not null && into.M == m && into.K == k && into.Kind == kind && ReferenceEquals(into.Caches, caches)
                ? into.Values : GC.AllocateUninitializedArray<float>((int)length, pinned: true);
            fixed (float* dst = values)
                for (int k0 = 0; k0 < k; k0 += plan.Kc)
                {
                    int kc = Math.Min(plan.Kc, k - k0);
                    for (int ip = 0; ip < plan.PanelsM; ip++)
                        GemmPacking.PackA<TKernel>(g, ip * TKernel.MR, k0, kc, GemmDriver.PanelA<TKernel>(dst, plan, k0, kc, ip));
                }
            return into is not null && ReferenceEquals(values, into.Values) ? into : new PackedMatrix(m, k, kind, caches, values);
        }
    }

    /// <summary>
    /// C (m, n) = A·op(B) with A given packed (<see cref="PackA"/>, m and k its own), B (k, n) row-major with stride ldb —
    /// or, when <paramref name="packedB"/> is non-null, B̃ pre-packed as <see cref="RunPrepackedB(int, int, int, float, ReadOnlySpan{float}, int, float*, long, float, Span{float}, int, int)"/>
    /// takes it. Bitwise the unpacked call's result: the same panels, the same blocking.
    /// </summary>
    internal static unsafe void RunPrepackedA(PackedMatrix a, int n, ReadOnlySpan<float> b, int ldb, float* packedB, Span<float> c, int ldc,
        int threads)
    {
        int m = a.M, k = a.K;
        if (a.Kind != AutoKind || !ReferenceEquals(a.Caches, CpuCaches.Current))
            throw new InvalidOperationException("Sgemm.RunPrepackedA: the matrix was packed for another kernel or cache reading; pack it again.");
        if (packedB == null) CheckOperand("b", k, n, b.Length, ldb, false, "ldb");
        CheckOperand("c", m, n, c.Length, ldc, false, "ldc");
        if (n == 0) return;
        fixed (float* pa = a.Values)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var g = new GemmArgs
            {
                M = m, N = n, K = k, Alpha = 1f, Beta = 0f, A = pa, Lda = k, B = pb, Ldb = ldb, C = pc, Ldc = ldc,
                PackedA = pa, PackedB = packedB,
            };
            switch (a.Kind)
            {
                case GemmKernelKind.Vector512: Execute<Kernel512>(g, threads, a.Caches); break;
                case GemmKernelKind.Vector256: Execute<Kernel256>(g, threads, a.Caches); break;
                case GemmKernelKind.Vector128 when GemmVector128.HasLaneMultiplyAdd: Execute<Kernel128Arm64>(g, threads, a.Caches); break;
                case GemmKernelKind.Vector128: Execute<Kernel128>(g, threads, a.Caches); break;
                default: Execute<KernelScalar>(g, threads, a.Caches); break;
            }
        }
    }

    /// <summary>Floats of B (k, n) packed for <see cref="RunPrepackedB(int, int, int, float, ReadOnlySpan{float}, int, float*, long, float, Span{float}, int, int)"/> on this machine.</summary>
    internal static long PackedBLength(int k, int n)
    {
        int w = PackedPanelWidth;
        return (long)(n + w - 1) / w * k * w;
    }

    /// <summary>
    /// b (k, n) row-major, row stride ldb → packed in the layout <see cref="RunPrepackedB(int, int, int, float, ReadOnlySpan{float}, int, float*, long, float, Span{float}, int, int)"/>
    /// reads (panels of <see cref="PackedPanelWidth"/> columns, k-major inside, the last panel zero-padded): for a B that
    /// stays the same over many calls (an inference Dense layer's weights), packed once instead of on every call.
    /// </summary>
    internal static void PackB(ReadOnlySpan<float> b, int k, int n, int ldb, Span<float> packed)
    {
        int w = PackedPanelWidth;
        if (k < 0 || n < 0 || ldb < n || (k > 0 && b.Length < (long)(k - 1) * ldb + n) || packed.Length < PackedBLength(k, n))
            throw new ArgumentException($"Sgemm.PackB: b {b.Length} (ldb {ldb}) or packed {packed.Length} does not fit {k} × {n}.");
        int panels = (n + w - 1) / w;
        for (int jp = 0; jp < panels; jp++)
        {
            int j0 = jp * w, width = Math.Min(w, n - j0);
            var panel = packed.Slice(jp * k * w, k * w);
            for (int kk = 0; kk < k; kk++)
            {
                b.Slice(kk * ldb + j0, width).CopyTo(panel.Slice(kk * w, width));
                if (width < w) panel.Slice(kk * w + width, w - width).Clear();
            }
        }
    }

    /// <summary>The same with a given kernel family (panels <see cref="PanelWidth"/>(kind) wide) and cache sizes (tests).</summary>
    internal static unsafe void RunPrepackedB(GemmKernelKind kind, CpuCaches caches, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, float* packedB, long packedLength, float beta, Span<float> c, int ldc, int threads)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Gemm: dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        CheckOperand("a", m, k, a.Length, lda, false, "lda");
        CheckOperand("c", m, n, c.Length, ldc, false, "ldc");
        if (kind == GemmKernelKind.Auto) kind = AutoKind;
        int w = PanelWidth(kind);
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
            switch (kind)
            {
                case GemmKernelKind.Vector512: Execute<Kernel512>(g, threads, caches); break;
                case GemmKernelKind.Vector256: Execute<Kernel256>(g, threads, caches); break;
                case GemmKernelKind.Vector128 when GemmVector128.HasLaneMultiplyAdd: Execute<Kernel128Arm64>(g, threads, caches); break;
                case GemmKernelKind.Vector128: Execute<Kernel128>(g, threads, caches); break;
                default: Execute<KernelScalar>(g, threads, caches); break;
            }
        }
    }

    /// <summary>True when this machine can run the given kernel family.</summary>
    internal static bool IsSupported(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Vector512 => UseVector512,
        GemmKernelKind.Vector256 => Vector256.IsHardwareAccelerated,
        GemmKernelKind.Vector128 => Vector128.IsHardwareAccelerated,
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
