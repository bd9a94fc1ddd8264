using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// In-register float transposes for the packers: 16 × 16 (AVX-512): turning 16 rows of a row-major operand into k-major
/// panel rows costs 64 shuffles per 256 floats instead of 256 scalar strided stores; 4 × 4 (128-bit: SSE, NEON) for the
/// narrower panels, 8 shuffles per 16 floats.
/// </summary>
internal static unsafe class GemmTranspose
{
    /// <summary>Whether <see cref="Block4x4"/> runs in vector registers here (SSE or ARM64 NEON).</summary>
    public static bool Has4x4 => Sse.IsSupported || AdvSimd.Arm64.IsSupported;

    /// <summary>
    /// 4 × 4 block at src (row stride srcStride) -> dst (row stride dstStride): dst[k·dstStride + r] = src[r·srcStride + k].
    /// Only where <see cref="Has4x4"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block4x4(float* src, nint srcStride, float* dst, nint dstStride)
    {
        var r0 = Vector128.Load(src);
        var r1 = Vector128.Load(src + srcStride);
        var r2 = Vector128.Load(src + 2 * srcStride);
        var r3 = Vector128.Load(src + 3 * srcStride);
        if (Sse.IsSupported)
        {
            // Interleave pairs of rows, then pairs of 64-bit halves.
            var t0 = Sse.UnpackLow(r0, r1); var t1 = Sse.UnpackLow(r2, r3);
            var t2 = Sse.UnpackHigh(r0, r1); var t3 = Sse.UnpackHigh(r2, r3);
            Sse.MoveLowToHigh(t0, t1).Store(dst);
            Sse.MoveHighToLow(t1, t0).Store(dst + dstStride);
            Sse.MoveLowToHigh(t2, t3).Store(dst + 2 * dstStride);
            Sse.MoveHighToLow(t3, t2).Store(dst + 3 * dstStride);
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            var t0 = AdvSimd.Arm64.ZipLow(r0, r1).AsDouble(); var t1 = AdvSimd.Arm64.ZipLow(r2, r3).AsDouble();
            var t2 = AdvSimd.Arm64.ZipHigh(r0, r1).AsDouble(); var t3 = AdvSimd.Arm64.ZipHigh(r2, r3).AsDouble();
            AdvSimd.Arm64.ZipLow(t0, t1).AsSingle().Store(dst);
            AdvSimd.Arm64.ZipHigh(t0, t1).AsSingle().Store(dst + dstStride);
            AdvSimd.Arm64.ZipLow(t2, t3).AsSingle().Store(dst + 2 * dstStride);
            AdvSimd.Arm64.ZipHigh(t2, t3).AsSingle().Store(dst + 3 * dstStride);
        }
        else
        {
            for (int r = 0; r < 4; r++)
                for (int k = 0; k < 4; k++) dst[k * dstStride + r] = src[r * srcStride + k];
        }
    }

    /// <summary>
    /// rows × 16 block (0 ≤ rows ≤ 16, missing rows read as zero) at src with row stride srcStride -> 16 output rows at dst with
    /// stride dstStride, of which the first <paramref name="width"/> (12 or 16) floats are stored: dst[k·dstStride + r] = src[r·srcStride + k].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block16(float* src, nint srcStride, int rows, float* dst, nint dstStride, int width)
    {
        // Rows past the edge read as zero (the zero padding of a partial panel).
        var r0 = 0 < rows ? Vector512.Load(src + 0 * srcStride) : Vector512<float>.Zero;
        var r1 = 1 < rows ? Vector512.Load(src + 1 * srcStride) : Vector512<float>.Zero;
        var r2 = 2 < rows ? Vector512.Load(src + 2 * srcStride) : Vector512<float>.Zero;
        var r3 = 3 < rows ? Vector512.Load(src + 3 * srcStride) : Vector512<float>.Zero;
        var r4 = 4 < rows ? Vector512.Load(src + 4 * srcStride) : Vector512<float>.Zero;
        var r5 = 5 < rows ? Vector512.Load(src + 5 * srcStride) : Vector512<float>.Zero;
        var r6 = 6 < rows ? Vector512.Load(src + 6 * srcStride) : Vector512<float>.Zero;
        var r7 = 7 < rows ? Vector512.Load(src + 7 * srcStride) : Vector512<float>.Zero;
        var r8 = 8 < rows ? Vector512.Load(src + 8 * srcStride) : Vector512<float>.Zero;
        var r9 = 9 < rows ? Vector512.Load(src + 9 * srcStride) : Vector512<float>.Zero;
        var r10 = 10 < rows ? Vector512.Load(src + 10 * srcStride) : Vector512<float>.Zero;
        var r11 = 11 < rows ? Vector512.Load(src + 11 * srcStride) : Vector512<float>.Zero;
        var r12 = 12 < rows ? Vector512.Load(src + 12 * srcStride) : Vector512<float>.Zero;
        var r13 = 13 < rows ? Vector512.Load(src + 13 * srcStride) : Vector512<float>.Zero;
        var r14 = 14 < rows ? Vector512.Load(src + 14 * srcStride) : Vector512<float>.Zero;
        var r15 = 15 < rows ? Vector512.Load(src + 15 * srcStride) : Vector512<float>.Zero;

        // Interleave pairs of rows (32-bit), then pairs of pairs (64-bit), then 128-bit lanes twice.
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);

        r0 = Avx512F.Shuffle(t0, t2, 0x44); r1 = Avx512F.Shuffle(t0, t2, 0xEE);
        r2 = Avx512F.Shuffle(t1, t3, 0x44); r3 = Avx512F.Shuffle(t1, t3, 0xEE);
        r4 = Avx512F.Shuffle(t4, t6, 0x44); r5 = Avx512F.Shuffle(t4, t6, 0xEE);
        r6 = Avx512F.Shuffle(t5, t7, 0x44); r7 = Avx512F.Shuffle(t5, t7, 0xEE);
        r8 = Avx512F.Shuffle(t8, t10, 0x44); r9 = Avx512F.Shuffle(t8, t10, 0xEE);
        r10 = Avx512F.Shuffle(t9, t11, 0x44); r11 = Avx512F.Shuffle(t9, t11, 0xEE);
        r12 = Avx512F.Shuffle(t12, t14, 0x44); r13 = Avx512F.Shuffle(t12, t14, 0xEE);
        r14 = Avx512F.Shuffle(t13, t15, 0x44); r15 = Avx512F.Shuffle(t13, t15, 0xEE);

        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88);
        t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD); t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD);
        t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD); t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88); t9 = Avx512F.Shuffle4x128(r9, r13, 0x88);
        t10 = Avx512F.Shuffle4x128(r10, r14, 0x88); t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xDD); t13 = Avx512F.Shuffle4x128(r9, r13, 0xDD);
        t14 = Avx512F.Shuffle4x128(r10, r14, 0xDD); t15 = Avx512F.Shuffle4x128(r11, r15, 0xDD);

        Store(dst, width, Avx512F.Shuffle4x128(t0, t8, 0x88));
        Store(dst + dstStride, width, Avx512F.Shuffle4x128(t1, t9, 0x88));
        Store(dst + 2 * dstStride, width, Avx512F.Shuffle4x128(t2, t10, 0x88));
        Store(dst + 3 * dstStride, width, Avx512F.Shuffle4x128(t3, t11, 0x88));
        Store(dst + 4 * dstStride, width, Avx512F.Shuffle4x128(t4, t12, 0x88));
        Store(dst + 5 * dstStride, width, Avx512F.Shuffle4x128(t5, t13, 0x88));
        Store(dst + 6 * dstStride, width, Avx512F.Shuffle4x128(t6, t14, 0x88));
        Store(dst + 7 * dstStride, width, Avx512F.Shuffle4x128(t7, t15, 0x88));
        Store(dst + 8 * dstStride, width, Avx512F.Shuffle4x128(t0, t8, 0xDD));
        Store(dst + 9 * dstStride, width, Avx512F.Shuffle4x128(t1, t9, 0xDD));
        Store(dst + 10 * dstStride, width, Avx512F.Shuffle4x128(t2, t10, 0xDD));
        Store(dst + 11 * dstStride, width, Avx512F.Shuffle4x128(t3, t11, 0xDD));
        Store(dst + 12 * dstStride, width, Avx512F.Shuffle4x128(t4, t12, 0xDD));
        Store(dst + 13 * dstStride, width, Avx512F.Shuffle4x128(t5, t13, 0xDD));
        Store(dst + 14 * dstStride, width, Avx512F.Shuffle4x128(t6, t14, 0xDD));
        Store(dst + 15 * dstStride, width, Avx512F.Shuffle4x128(t7, t15, 0xDD));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, int width, Vector512<float> v)
    {
        if (width == 16)
        {
            v.Store(dst);
        }
        else
        {
            // width 12: an Ã panel row of the 12-row kernel.
            v.GetLower().Store(dst);
            v.GetUpper().GetLower().Store(dst + 8);
        }
    }
}
