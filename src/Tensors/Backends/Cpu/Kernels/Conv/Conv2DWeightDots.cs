using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// The weight gradient dW (OC, P) += dY (OC, L) · colᵀ as OC·P dot products of length L, for a first layer (C = 1 or 3):
/// there P = C·KH·KW is as small as 9 or 27, a fraction of the GEMM's 32-wide micro-kernel behind a full pack of both
/// operands, while L = OH·OW is long (784, 1024). As dot products it is one pass over each operand: 4 × 4 blocks share
/// their loads (8 vector loads feed 16 FMAs), and the lanes are summed once per block.
/// </summary>
public static class Conv2DWeightDots
{
    /// <summary>
    /// Whether dW (oc, patch) += dY (oc, length) · colᵀ should take this path rather than the GEMM: for a patch narrower
    /// than the GEMM's 32-wide micro-kernel (first layers: 1.9× for C = 3, 7× for C = 1 on the study layers). For wider
    /// patches the GEMM (with its in-register transposing pack of colᵀ) is as fast or faster — see docs/perf/conv.md.
    /// </summary>
    public static bool Prefer(int patch) => patch < 32;

    /// <summary>
    /// c (m, n) (row stride ldc) = (overwrite ? 0 : c) + a (m, length) · bᵀ where b is (n, length); a and b have row
    /// strides lda and ldb. <paramref name="width"/>: Auto takes <see cref="ConvVectors.Best"/>; tests force each width.
    /// </summary>
    public static void Accumulate(ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, int m, int n, int length,
        Span<float> c, int ldc, bool overwrite, VectorWidth width = VectorWidth.Auto)
    {
        if (m <= 0 || n <= 0) return;
        if ((long)(m - 1) * lda + length > a.Length || (long)(n - 1) * ldb + length > b.Length || (long)(m - 1) * ldc + n > c.Length)
            throw new ArgumentException($"Conv2DWeightDots.Accumulate: operands too small for ({m} × {length}) · ({n} × {length})ᵀ.");
        var step = new AccumulateStep { A = a, Lda = lda, B = b, Ldb = ldb, M = m, N = n, Length = length, C = c, Ldc = ldc, Overwrite = overwrite };
        ConvVectors.Run(ConvVectors.Resolve(width, "Conv2DWeightDots"), ref step);
    }

    private ref struct AccumulateStep : IConvVectorStep
    {
        public ReadOnlySpan<float> A, B;
        public Span<float> C;
        public int Lda, Ldb, M, N, Length, Ldc;
        public bool Overwrite;

        public readonly void Run<TVec>() where TVec : struct, IConvVector<TVec> => Accumulate<TVec>(A, Lda, B, Ldb, M, N, Length, C, Ldc, Overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate<TVec>(ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, int m, int n, int length,
        Span<float> c, int ldc, bool overwrite) where TVec : struct, IConvVector<TVec>
    {
        ref float a0 = ref MemoryMarshal.GetReference(a);
        ref float b0 = ref MemoryMarshal.GetReference(b);
        ref float c0 = ref MemoryMarshal.GetReference(c);
        Span<float> block = stackalloc float[16];

        int i = 0;
        for (; i <= m - 4; i += 4)
        {
            int j = 0;
            for (; j <= n - 4; j += 4)
            {
                Block4x4<TVec>(ref Unsafe.Add(ref a0, i * lda), lda, ref Unsafe.Add(ref b0, j * ldb), ldb, length, block);
                for (int r = 0; r < 4; r++)
                for (int s = 0; s < 4; s++)
                    Store(ref Unsafe.Add(ref c0, (i + r) * ldc + j + s), block[r * 4 + s], overwrite);
            }
            for (; j < n; j++)
            {
                Block4x1<TVec>(ref Unsafe.Add(ref a0, i * lda), lda, ref Unsafe.Add(ref b0, j * ldb), length, block);
                for (int r = 0; r < 4; r++)
                    Store(ref Unsafe.Add(ref c0, (i + r) * ldc + j), block[r], overwrite);
            }
        }
        for (; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            float dot = TensorPrimitives.Dot(a.Slice(i * lda, length), b.Slice(j * ldb, length));
            Store(ref Unsafe.Add(ref c0, i * ldc + j), dot, overwrite);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float target, float value, bool overwrite) => target = overwrite ? value : target + value;

    // out[r·4 + s] = a_r · b_s for rows r, s = 0..3: whole vectors (lanes summed once, in the width's own order), then the
    // scalar tail added on. The scalar width is all tail, from 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x4<TVec>(ref float a, int lda, ref float b, int ldb, int length, Span<float> result)
        where TVec : struct, IConvVector<TVec>
    {
        ref float a1 = ref Unsafe.Add(ref a, lda), a2 = ref Unsafe.Add(ref a, 2 * lda), a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref float b1 = ref Unsafe.Add(ref b, ldb), b2 = ref Unsafe.Add(ref b, 2 * ldb), b3 = ref Unsafe.Add(ref b, 3 * ldb);
        int p = 0, count = TVec.Count;
        if (count > 1 && length >= count)
        {
            TVec s00 = default, s01 = default, s02 = default, s03 = default;
            TVec s10 = default, s11 = default, s12 = default, s13 = default;
            TVec s20 = default, s21 = default, s22 = default, s23 = default;
            TVec s30 = default, s31 = default, s32 = default, s33 = default;
            for (; p <= length - count; p += count)
            {
                var vb0 = TVec.Load(ref b, (nuint)p);
                var vb1 = TVec.Load(ref b1, (nuint)p);
                var vb2 = TVec.Load(ref b2, (nuint)p);
                var vb3 = TVec.Load(ref b3, (nuint)p);
                var va = TVec.Load(ref a, (nuint)p);
                s00 = TVec.MultiplyAdd(va, vb0, s00); s01 = TVec.MultiplyAdd(va, vb1, s01);
                s02 = TVec.MultiplyAdd(va, vb2, s02); s03 = TVec.MultiplyAdd(va, vb3, s03);
                va = TVec.Load(ref a1, (nuint)p);
                s10 = TVec.MultiplyAdd(va, vb0, s10); s11 = TVec.MultiplyAdd(va, vb1, s11);
                s12 = TVec.MultiplyAdd(va, vb2, s12); s13 = TVec.MultiplyAdd(va, vb3, s13);
                va = TVec.Load(ref a2, (nuint)p);
                s20 = TVec.MultiplyAdd(va, vb0, s20); s21 = TVec.MultiplyAdd(va, vb1, s21);
                s22 = TVec.MultiplyAdd(va, vb2, s22); s23 = TVec.MultiplyAdd(va, vb3, s23);
                va = TVec.Load(ref a3, (nuint)p);
                s30 = TVec.MultiplyAdd(va, vb0, s30); s31 = TVec.MultiplyAdd(va, vb1, s31);
                s32 = TVec.MultiplyAdd(va, vb2, s32); s33 = TVec.MultiplyAdd(va, vb3, s33);
            }
            result[0] = TVec.Sum(s00); result[1] = TVec.Sum(s01); result[2] = TVec.Sum(s02); result[3] = TVec.Sum(s03);
            result[4] = TVec.Sum(s10); result[5] = TVec.Sum(s11); result[6] = TVec.Sum(s12); result[7] = TVec.Sum(s13);
            result[8] = TVec.Sum(s20); result[9] = TVec.Sum(s21); result[10] = TVec.Sum(s22); result[11] = TVec.Sum(s23);
            result[12] = TVec.Sum(s30); result[13] = TVec.Sum(s31); result[14] = TVec.Sum(s32); result[15] = TVec.Sum(s33);
        }
        else result.Clear();

        for (; p < length; p++)
        {
            float x0 = Unsafe.Add(ref a, p), x1 = Unsafe.Add(ref a1, p), x2 = Unsafe.Add(ref a2, p), x3 = Unsafe.Add(ref a3, p);
            float y0 = Unsafe.Add(ref b, p), y1 = Unsafe.Add(ref b1, p), y2 = Unsafe.Add(ref b2, p), y3 = Unsafe.Add(ref b3, p);
            result[0] += x0 * y0; result[1] += x0 * y1; result[2] += x0 * y2; result[3] += x0 * y3;
            result[4] += x1 * y0; result[5] += x1 * y1; result[6] += x1 * y2; result[7] += x1 * y3;
            result[8] += x2 * y0; result[9] += x2 * y1; result[10] += x2 * y2; result[11] += x2 * y3;
            result[12] += x3 * y0; result[13] += x3 * y1; result[14] += x3 * y2; result[15] += x3 * y3;
        }
    }

    // out[r] = a_r · b for rows r = 0..3 of a and one row of b.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x1<TVec>(ref float a, int lda, ref float b, int length, Span<float> result)
        where TVec : struct, IConvVector<TVec>
    {
        ref float a1 = ref Unsafe.Add(ref a, lda), a2 = ref Unsafe.Add(ref a, 2 * lda), a3 = ref Unsafe.Add(ref a, 3 * lda);
        int p = 0, count = TVec.Count;
        if (count > 1 && length >= count)
        {
            TVec s0 = default, s1 = default, s2 = default, s3 = default;
            for (; p <= length - count; p += count)
            {
                var vb = TVec.Load(ref b, (nuint)p);
                s0 = TVec.MultiplyAdd(TVec.Load(ref a, (nuint)p), vb, s0);
                s1 = TVec.MultiplyAdd(TVec.Load(ref a1, (nuint)p), vb, s1);
                s2 = TVec.MultiplyAdd(TVec.Load(ref a2, (nuint)p), vb, s2);
                s3 = TVec.MultiplyAdd(TVec.Load(ref a3, (nuint)p), vb, s3);
            }
            result[0] = TVec.Sum(s0); result[1] = TVec.Sum(s1); result[2] = TVec.Sum(s2); result[3] = TVec.Sum(s3);
        }
        else result[..4].Clear();

        for (; p < length; p++)
        {
            float y = Unsafe.Add(ref b, p);
            result[0] += Unsafe.Add(ref a, p) * y; result[1] += Unsafe.Add(ref a1, p) * y;
            result[2] += Unsafe.Add(ref a2, p) * y; result[3] += Unsafe.Add(ref a3, p) * y;
        }
    }
}
