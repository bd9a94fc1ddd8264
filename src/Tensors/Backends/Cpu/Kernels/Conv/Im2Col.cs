using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// im2col and its adjoint col2im for one image, the data movement of convolution-as-GEMM.
///
/// Column matrix layout (Caffe): row r = (c·KH + kh)·KW + kw, column p = oh·OW + ow, and
///   col[r, p] = x[c, oh·SH + kh − PadTop, ow·SW + kw − PadLeft]   (0 outside the image).
/// Rows are written with a row stride <c>colStride</c> ≥ OH·OW, so several images can sit side by side in one wider
/// column matrix (batched GEMM) or one image can fill a matrix of its own (colStride = OH·OW).
///
/// Padding is handled by index RANGES, never by per-element tests: for each (kh, kw) the valid output columns are
/// [owLo, owHi) and each output row is either fully out of the image (zeros) or one zero head, one body, one zero tail.
/// With stride 1 the body is a contiguous copy (add for col2im); otherwise a strided gather (scatter-add).
/// </summary>
public static class Im2Col
{
    /// <summary>
    /// image (C, H, W) → col (C·KH·KW, OH·OW) with row stride colStride. Every element of each row's first OH·OW is written.
    /// <paramref name="width"/>: the row copies' vectors (Auto: <see cref="ConvVectors.Best"/>; tests force each width).
    /// </summary>
    public static void ImageToColumns(ReadOnlySpan<float> image, Span<float> col, int colStride, in ConvGeometry g,
        VectorWidth width = VectorWidth.Auto)
    {
        CheckSpans(image.Length, col.Length, colStride, g, "ImageToColumns");
        var step = new ImageToColumnsStep { Image = image, Col = col, ColStride = colStride, G = g };
        ConvVectors.Run(ConvVectors.Resolve(width, "Im2Col"), ref step);
    }

    private ref struct ImageToColumnsStep : IConvVectorStep
    {
        public ReadOnlySpan<float> Image;
        public Span<float> Col;
        public int ColStride;
        public ConvGeometry G;

        public readonly void Run<TVec>() where TVec : struct, IConvVector<TVec> => ImageToColumns<TVec>(Image, Col, ColStride, G);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImageToColumns<TVec>(ReadOnlySpan<float> image, Span<float> col, int colStride, in ConvGeometry g)
        where TVec : struct, IConvVector<TVec>
    {
        int h = g.H, w = g.W, oh = g.OH, ow = g.OW, sh = g.StrideH, sw = g.StrideW;
        if (sh == 1 && sw == 1)
        {
            StrideOneColumns<TVec>(image, col, colStride, g);
            return;
        }
        ref float img = ref MemoryMarshal.GetReference(image);
        ref float dstBase = ref MemoryMarshal.GetReference(col);
        int row = 0;
        for (int c = 0; c < g.C; c++)
        {
            ref float plane = ref Unsafe.Add(ref img, c * h * w);
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih0 = kh - g.PadTop; // ih = oy·SH + ih0
                OutputRange(ih0, sh, h, oh, out int ohLo, out int ohHi);
                for (int kw = 0; kw < g.KW; kw++, row++)
                {
                    int iw0 = kw - g.PadLeft; // iw = ox·SW + iw0
                    OutputRange(iw0, sw, w, ow, out int owLo, out int owHi);
                    ref float dst = ref Unsafe.Add(ref dstBase, row * colStride);
                    int valid = owHi - owLo;
                    if (valid == 0) // this kernel column never lands in the image: the whole row is padding
                    {
                        Zero(ref dst, oh * ow);
                        continue;
                    }

                    if (ohLo > 0) Zero(ref dst, ohLo * ow);
                    if (sh == 1 && sw == 1 && ow == w && ohHi > ohLo)
                    {
                        // Output rows as wide as image rows (stride-1 'same'): the valid rows are ONE contiguous block of
                        // the image shifted by iw0, so copy it in one go (from the first valid to the last valid element,
                        // never outside the image) and then zero the owLo / ow−owHi edge columns of each row, which the
                        // block copy filled with the neighbouring row's pixels.
                        int start = ohLo * ow + owLo, end = (ohHi - 1) * ow + owHi;
                        Copy<TVec>(ref Unsafe.Add(ref plane, (ohLo + ih0) * w + owLo + iw0), ref Unsafe.Add(ref dst, start), end - start);
                        if (owLo > 0 || owHi < ow)
                            for (int oy = ohLo; oy < ohHi; oy++)
                            {
                                ref float dstRow = ref Unsafe.Add(ref dst, oy * ow);
                                for (int i = 0; i < owLo; i++) Unsafe.Add(ref dstRow, i) = 0f;
                                for (int i = owHi; i < ow; i++) Unsafe.Add(ref dstRow, i) = 0f;
                            }
                        if (ohHi < oh) Zero(ref Unsafe.Add(ref dst, ohHi * ow), (oh - ohHi) * ow);
                        continue;
                    }
                    for (int oy = ohLo; oy < ohHi; oy++)
                    {
                        ref float dstRow = ref Unsafe.Add(ref dst, oy * ow);
                        ref float src = ref Unsafe.Add(ref plane, (oy * sh + ih0) * w + owLo * sw + iw0);
                        if (owLo > 0) Zero(ref dstRow, owLo);
                        if (sw == 1) Copy<TVec>(ref src, ref Unsafe.Add(ref dstRow, owLo), valid);
                        else
                        {
                            ref float d = ref Unsafe.Add(ref dstRow, owLo);
                            for (int i = 0; i < valid; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref src, i * sw);
                        }
                        if (owHi < ow) Zero(ref Unsafe.Add(ref dstRow, owHi), ow - owHi);
                    }
                    if (ohHi < oh) Zero(ref Unsafe.Add(ref dst, ohHi * ow), (oh - ohHi) * ow);
                }
            }
        }
    }

    /// <summary>
    /// image (C, H, W) += col2im(col): col (C·KH·KW, OH·OW) with row stride colStride; every column entry is added to the
    /// input pixel it was gathered from (overlapping patches accumulate; padding entries are dropped). Adjoint of
    /// ImageToColumns. col is scratch: entries that fall on padding may be overwritten with zeros.
    /// </summary>
    public static void ColumnsToImageAdd(Span<float> col, int colStride, Span<float> image, in ConvGeometry g,
        VectorWidth width = VectorWidth.Auto)
    {
        CheckSpans(image.Length, col.Length, colStride, g, "ColumnsToImageAdd");
        var step = new ColumnsToImageAddStep { Col = col, ColStride = colStride, Image = image, G = g };
        ConvVectors.Run(ConvVectors.Resolve(width, "Im2Col"), ref step);
    }

    private ref struct ColumnsToImageAddStep : IConvVectorStep
    {
        public Span<float> Col, Image;
        public int ColStride;
        public ConvGeometry G;

        public readonly void Run<TVec>() where TVec : struct, IConvVector<TVec> => ColumnsToImageAdd<TVec>(Col, ColStride, Image, G);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnsToImageAdd<TVec>(Span<float> col, int colStride, Span<float> image, in ConvGeometry g)
        where TVec : struct, IConvVector<TVec>
    {
        int h = g.H, w = g.W, ow = g.OW, sh = g.StrideH, sw = g.StrideW;
        ref float img = ref MemoryMarshal.GetReference(image);
        ref float srcBase = ref MemoryMarshal.GetReference(col);
        int row = 0;
        for (int c = 0; c < g.C; c++)
        {
            ref float plane = ref Unsafe.Add(ref img, c * h * w);
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih0 = kh - g.PadTop;
                OutputRange(ih0, sh, h, g.OH, out int ohLo, out int ohHi);
                for (int kw = 0; kw < g.KW; kw++, row++)
                {
                    int iw0 = kw - g.PadLeft;
                    OutputRange(iw0, sw, w, ow, out int owLo, out int owHi);
                    ref float src = ref Unsafe.Add(ref srcBase, row * colStride);
                    int valid = owHi - owLo;
                    if (valid == 0) continue; // the whole row is padding
                    if (sh == 1 && sw == 1 && ow == w && ohHi > ohLo)
                    {
                        // As in ImageToColumns: the valid rows map onto one contiguous block of the image. Zero the col
                        // entries that fall on padding (they would land on the neighbouring row's edge pixels), then add
                        // the whole block at once; the padding positions add exactly 0.
                        if (owLo > 0 || owHi < ow)
                            for (int oy = ohLo; oy < ohHi; oy++)
                            {
                                ref float srcRow = ref Unsafe.Add(ref src, oy * ow);
                                for (int i = 0; i < owLo; i++) Unsafe.Add(ref srcRow, i) = 0f;
                                for (int i = owHi; i < ow; i++) Unsafe.Add(ref srcRow, i) = 0f;
                            }
                        int start = ohLo * ow + owLo, end = (ohHi - 1) * ow + owHi;
                        Add<TVec>(ref Unsafe.Add(ref src, start), ref Unsafe.Add(ref plane, (ohLo + ih0) * w + owLo + iw0), end - start);
                        continue;
                    }
                    for (int oy = ohLo; oy < ohHi; oy++)
                    {
                        ref float s = ref Unsafe.Add(ref src, oy * ow + owLo);
                        ref float dst = ref Unsafe.Add(ref plane, (oy * sh + ih0) * w + owLo * sw + iw0);
                        if (sw == 1) Add<TVec>(ref s, ref dst, valid);
                        else
                            for (int i = 0; i < valid; i++) Unsafe.Add(ref dst, i * sw) += Unsafe.Add(ref s, i);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Stride 1: each channel is first copied into a zero-padded plane (<see cref="PaddedPlane"/>: the padding becomes data),
    /// so every output row of every tap is one run of OW floats of it, copied in whole vectors with no edge cases. A row's
    /// last vector may run past OW into the next output row of the same tap, which is written next and overwrites it; the
    /// last row of a tap is copied exactly (and rows narrower than half a vector all are), so nothing outside the tap's own row of col is touched (other threads may be
    /// writing the neighbouring channels or images). Per-row head/tail zeroing of short rows (14 wide, a 5×5 kernel) cost
    /// more than the copies themselves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StrideOneColumns<TVec>(ReadOnlySpan<float> image, Span<float> col, int colStride, in ConvGeometry g)
        where TVec : struct, IConvVector<TVec>
    {
        int h = g.H, w = g.W, oh = g.OH, ow = g.OW, kh = g.KH, kw = g.KW;
        int paddedRows = oh + kh - 1;
        int vectorRun = (ow + TVec.Count - 1) / TVec.Count * TVec.Count; // floats a non-last row's copy reads and writes
        int paddedWidth = Math.Max(g.PadLeft + w, kw - 1 + vectorRun);
        // Whole vectors only while a row's overrun stays within the next row (rows narrower than half a vector: exact).
        bool runsOver = vectorRun <= 2 * ow;
        var padded = PaddedPlane(paddedRows * paddedWidth);
        ref float img = ref MemoryMarshal.GetReference(image);
        ref float dstBase = ref MemoryMarshal.GetReference(col);
        ref float pad = ref MemoryMarshal.GetArrayDataReference(padded);
        int row = 0;
        for (int c = 0; c < g.C; c++)
        {
            // The padded plane: rows of [PadLeft zeros, the image row, zeros], zero rows above and below the image.
            padded.AsSpan(0, paddedRows * paddedWidth).Clear();
            ref float plane = ref Unsafe.Add(ref img, c * h * w);
            for (int r = 0; r < paddedRows; r++)
            {
                int ih = r - g.PadTop;
                if ((uint)ih < (uint)h) Copy<TVec>(ref Unsafe.Add(ref plane, ih * w), ref Unsafe.Add(ref pad, r * paddedWidth + g.PadLeft), w);
            }
            for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++, row++)
            {
                ref float dst = ref Unsafe.Add(ref dstBase, row * colStride);
                ref float src = ref Unsafe.Add(ref pad, ky * paddedWidth + kx);
                for (int oy = 0; oy < oh - 1; oy++)
                {
                    if (runsOver) CopySteps<TVec>(ref Unsafe.Add(ref src, oy * paddedWidth), ref Unsafe.Add(ref dst, oy * ow), 0, vectorRun);
                    else Copy<TVec>(ref Unsafe.Add(ref src, oy * paddedWidth), ref Unsafe.Add(ref dst, oy * ow), ow);
                }
                Copy<TVec>(ref Unsafe.Add(ref src, (oh - 1) * paddedWidth), ref Unsafe.Add(ref dst, (oh - 1) * ow), ow);
            }
        }
    }

    [ThreadStatic] private static float[]? t_paddedPlane;

    /// <summary>This thread's zero-padded plane for <see cref="StrideOneColumns{TVec}"/> (grow-only; contents undefined).</summary>
    private static float[] PaddedPlane(int length)
    {
        if (t_paddedPlane is null || t_paddedPlane.Length < length)
            t_paddedPlane = GC.AllocateUninitializedArray<float>(Math.Max(length, 1024));
        return t_paddedPlane;
    }

    /// <summary>
    /// The outputs o in [0, outSize) whose input index o·stride + offset lies in [0, inSize): [lo, hi), empty as lo = hi.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void OutputRange(int offset, int stride, int inSize, int outSize, out int lo, out int hi)
    {
        lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        hi = offset > inSize - 1 ? 0 : Math.Min(outSize, (inSize - 1 - offset) / stride + 1);
        if (lo > outSize) lo = outSize;
        if (hi < lo) hi = lo;
    }

    private static void CheckSpans(int imageLength, int colLength, int colStride, in ConvGeometry g, string name)
    {
        int pixels = g.OH * g.OW;
        if (imageLength < g.C * g.H * g.W || colStride < pixels || colLength < (g.PatchSize - 1) * colStride + pixels)
            throw new ArgumentException($"Im2Col.{name}: image of {imageLength} floats / col of {colLength} floats (stride {colStride}) are too small for {g}.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Zero(ref float dst, int length)
    {
        if (length <= 8)
            for (int i = 0; i < length; i++) Unsafe.Add(ref dst, i) = 0f;
        else
            MemoryMarshal.CreateSpan(ref dst, length).Clear();
    }

    // Short contiguous copies (image rows of 8..32 floats): vector moves inline, cheaper than a memmove call. Whole TVec
    // vectors, narrower steps, then one overlapping 128-bit vector for the last 1..3 floats (rewriting a few floats with the
    // same values is harmless for a copy).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy<TVec>(ref float src, ref float dst, int length) where TVec : struct, IConvVector<TVec>
    {
        int i = CopySteps<TVec>(ref src, ref dst, 0, length);
        if (TVec.Count > 8) i = CopySteps<Vec256>(ref src, ref dst, i, length);
        if (TVec.Count > 4) i = CopySteps<Vec128>(ref src, ref dst, i, length);
        if (TVec.Count > 1 && i < length && length >= 4)
        {
            Vec128.Store(ref dst, (nuint)(length - 4), Vec128.Load(ref src, (nuint)(length - 4)));
            return;
        }
        for (; i < length; i++) Unsafe.Add(ref dst, i) = Unsafe.Add(ref src, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CopySteps<TVec>(ref float src, ref float dst, int i, int length) where TVec : struct, IConvVector<TVec>
    {
        for (; i <= length - TVec.Count; i += TVec.Count)
            TVec.Store(ref dst, (nuint)i, TVec.Load(ref src, (nuint)i));
        return i;
    }

    // dst[i] += src[i]; no overlapping tail here (it would add twice).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add<TVec>(ref float src, ref float dst, int length) where TVec : struct, IConvVector<TVec>
    {
        int i = AddSteps<TVec>(ref src, ref dst, 0, length);
        if (TVec.Count > 8) i = AddSteps<Vec256>(ref src, ref dst, i, length);
        if (TVec.Count > 4) i = AddSteps<Vec128>(ref src, ref dst, i, length);
        if (TVec.Count > 1) AddSteps<VecScalar>(ref src, ref dst, i, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AddSteps<TVec>(ref float src, ref float dst, int i, int length) where TVec : struct, IConvVector<TVec>
    {
        for (; i <= length - TVec.Count; i += TVec.Count)
            TVec.Store(ref dst, (nuint)i, TVec.Load(ref dst, (nuint)i) + TVec.Load(ref src, (nuint)i));
        return i;
    }
}
