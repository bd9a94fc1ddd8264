using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>Launch scalars of the implicit-GEMM convolution kernels (the geometry travels separately as ConvParams).</summary>
public struct ImplicitGemmParams
{
    /// <summary>The launch covers images FirstImage .. FirstImage + Images − 1 of the batch.</summary>
    public int FirstImage, Images;
    /// <summary>Depth of one shared-memory tile along K.</summary>
    public int TileK;
    /// <summary>Forward: 1 when the bias is added in the store.</summary>
    public int HasBias;
    /// <summary>Weight gradient: K range of one split (grid z), a multiple of TileK.</summary>
    public int KPerSplit;
    /// <summary>Weight gradient: 1 → dst += sum (one split, straight into dW); 0 → dst = sum (one partial per split).</summary>
    public int Accumulate;
}

/// <summary>
/// Convolution as a GEMM whose x-side operand is never materialised: the im2col column matrix exists only one
/// shared-memory tile at a time, gathered from x as it is staged (taps that fall in the padding read as 0). This saves the
/// col buffer's write and re-read through device memory (KH·KW times the size of x) and the separate im2col launch.
///
/// Tiling, register blocking and group shape are those of <see cref="Gemm.Tiled"/>: a group of (DX, DY) threads owns a
/// (4·DY) × (4·DX) tile of the output, each thread a 4 × 4 block of accumulators (rows ty + i·DY, columns tx + j·DX), and
/// the K loop stages TileK-deep, k-major slices of both operands in dynamic shared memory.
///
/// The gather's index math is split into two small tables in shared memory, so the per-element work is two adds and a
/// bounds check, not a chain of divisions:
///   a tap (c, kh, kw) of the patch axis K = C·KH·KW, and
///   an output pixel (image, q = oh·OW + ow, ih0 = oh·strideH − padTop, iw0 = ow·strideW − padLeft),
/// so x[image, c, ih0 + kh, iw0 + kw] is the column-matrix entry. One table is fixed for the whole group (its output
/// columns); the other follows the K loop and is double-buffered: slice s+1's entries are written while slice s is
/// staged, so the tables cost no extra barrier per slice. A table of `count` entries holds <see cref="TableWidth"/> fields
/// stored field-major (field f of entry e at f·count + e), so a warp reading neighbouring entries reads neighbouring words
/// (no bank conflicts); a first field of −1 marks a row or column beyond the problem (it reads as 0 / is not stored).
///
/// Both operand tiles are k-major with rows padded by one float (row stride 4·DY + 1 and 4·DX + 1): the stagings that walk
/// k fastest (w and dy, whose k runs along memory, and x in the weight gradient) then write 16 different banks instead of
/// one; the compute loop's reads stay conflict-free.
///
/// Every output element is one thread's sum over K in a fixed order (and, for split weight gradients, the splits are
/// added in index order by <see cref="SumSplits"/>): results are bitwise deterministic for a given device.
/// </summary>
public static class ImplicitGemmConv
{
    /// <summary>Fields (ints) per tap / pixel table entry (taps use three).</summary>
    public const int TableWidth = 4;

    /// <summary>
    /// Floats of dynamic shared memory a launch of either kernel needs: the two operand tiles, the double-buffered
    /// K-side table and the group's column table.
    /// </summary>
    public static int SharedFloats(int groupX, int groupY, int tileK) =>
        tileK * (Gemm.RegisterBlock * (groupX + groupY) + 2) + TableWidth * (2 * tileK + Gemm.RegisterBlock * groupX);

    /// <summary>
    /// y = w · col(x) (+ bias): GEMM with M = OC, N = images·OH·OW, K = C·KH·KW. Grid (ceil(N / (4·DX)), ceil(OC / (4·DY)), 1).
    /// Column j of the GEMM is output pixel q of image FirstImage + j / (OH·OW); the store writes y in NCHW directly.
    /// </summary>
    // x (N, C, H, W), w (OC, C·KH·KW), bias (OC) -> y (N, OC, OH, OW) for images FirstImage .. FirstImage + Images − 1
    [GpuKernel(KernelGrouping.Explicit)]
    public static void Forward(ConvParams g, ImplicitGemmParams t, FloatView x, FloatView w, FloatView bias, FloatView y)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int dx = Group.DimX, dy = Group.DimY;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tileM = Gemm.RegisterBlock * dy, tileN = Gemm.RegisterBlock * dx, tileK = t.TileK;
        int aStride = tileM + 1, bStride = tileN + 1;
        int threads = dx * dy, tid = ty * dx + tx;
        int row0 = Grid.IdxY * tileM, col0 = Grid.IdxX * tileN;
        int pixels = g.OH * g.OW, taps = g.KH * g.KW;
        int m = g.OC, n = t.Images * pixels, k = g.C * taps;
        int aTileSize = tileK * aStride, bTileSize = tileK * bStride, tapTableSize = TableWidth * tileK;
        // As[kk * aStride + mm] = w[row0 + mm, k0 + kk];  Bs[kk * bStride + nn] = col[k0 + kk, col0 + nn]
        var aTile = shared.SubView(0, aTileSize);
        var bTile = shared.SubView(aTileSize, bTileSize);
        var tapTables = shared.SubView(aTileSize + bTileSize, 2 * tapTableSize).Cast<int>();
        var pixelTable = shared.SubView(aTileSize + bTileSize + 2 * tapTableSize, TableWidth * tileN).Cast<int>();

        // This group's output columns (image, q, ih0, iw0), fixed for the whole K loop; the first slice's taps.
        FillPixelTable(pixelTable, g, t.FirstImage, col0, n, tileN, tid, threads);
        FillTapTable(tapTables.SubView(0, tapTableSize), 0, k, tileK, taps, g.KW, tid, threads);
        Group.Barrier();

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        int slice = 0;
        for (int k0 = 0; k0 < k; k0 += tileK)
        {
            // Stage w: consecutive threads take consecutive k of one weight row (coalesced loads).
            for (int l = tid; l < tileK * tileM; l += threads)
            {
                int kk = l % tileK, mm = l / tileK;
                int gm = row0 + mm, gk = k0 + kk;
                aTile[kk * aStride + mm] = gm < m && gk < k ? w[(long)gm * k + gk] : 0f;
            }
            // Gather the column-matrix slice from x: consecutive threads take consecutive output pixels, which for
            // stride 1 are consecutive addresses of x.
            var tapTable = tapTables.SubView((slice & 1) * tapTableSize, tapTableSize);
            for (int l = tid; l < tileK * tileN; l += threads)
            {
                int kk = l / tileN, j = l - kk * tileN;
                bTile[kk * bStride + j] = Gather(x, g, tapTable, kk, tileK, pixelTable, j, tileN);
            }
            // The next slice's taps go to the other buffer, which nobody reads until after the barrier below.
            FillTapTable(tapTables.SubView(((slice + 1) & 1) * tapTableSize, tapTableSize), k0 + tileK, k, tileK, taps, g.KW, tid, threads);
            Group.Barrier();

            for (int kk = 0; kk < tileK; kk++)
            {
                int ar = kk * aStride + ty, br = kk * bStride + tx;
                float a0 = aTile[ar], a1 = aTile[ar + dy], a2 = aTile[ar + 2 * dy], a3 = aTile[ar + 3 * dy];
                float b0 = bTile[br], b1 = bTile[br + dx], b2 = bTile[br + 2 * dx], b3 = bTile[br + 3 * dx];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
            slice++;
        }

        StoreOutputRow(y, bias, g, t, pixelTable, tileN, row0 + ty, tx, dx, c00, c01, c02, c03);
        StoreOutputRow(y, bias, g, t, pixelTable, tileN, row0 + ty + dy, tx, dx, c10, c11, c12, c13);
        StoreOutputRow(y, bias, g, t, pixelTable, tileN, row0 + ty + 2 * dy, tx, dx, c20, c21, c22, c23);
        StoreOutputRow(y, bias, g, t, pixelTable, tileN, row0 + ty + 3 * dy, tx, dx, c30, c31, c32, c33);
    }

    /// <summary>
    /// dW (+)= Σ over images and output pixels of dy[image, oc, q] · col(x)[tap, q]: GEMM with M = OC, N = C·KH·KW and
    /// K = images·OH·OW, so every image of the launch is reduced inside ONE kernel (the K loop walks across image
    /// boundaries). Grid (ceil(N / (4·DX)), ceil(OC / (4·DY)), splits): split z covers K range [z·KPerSplit, (z+1)·KPerSplit),
    /// which gives a small layer (few output tiles, long K) enough groups to fill the device; with several splits each
    /// writes its own partial (dst + z·OC·N) and <see cref="SumSplits"/> adds them to dW in split order.
    /// </summary>
    // x (N, C, H, W), dy (N, OC, OH, OW) -> dst (splits, OC, C·KH·KW): dW itself (+=) when Accumulate, else partials (=)
    [GpuKernel(KernelGrouping.Explicit)]
    public static void WeightGrad(ConvParams g, ImplicitGemmParams t, FloatView x, FloatView dy, FloatView dst)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int dx = Group.DimX, dyGroup = Group.DimY;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tileM = Gemm.RegisterBlock * dyGroup, tileN = Gemm.RegisterBlock * dx, tileK = t.TileK;
        int aStride = tileM + 1, bStride = tileN + 1;
        int threads = dx * dyGroup, tid = ty * dx + tx;
        int row0 = Grid.IdxY * tileM, col0 = Grid.IdxX * tileN;
        int pixels = g.OH * g.OW, taps = g.KH * g.KW;
        int m = g.OC, n = g.C * taps, k = t.Images * pixels;
        int kBegin = Grid.IdxZ * t.KPerSplit;
        int kEnd = Math.Min(kBegin + t.KPerSplit, k);
        int aTileSize = tileK * aStride, bTileSize = tileK * bStride, pixelTableSize = TableWidth * tileK;
        // As[kk * aStride + mm] = dy[pixel k0 + kk of channel row0 + mm];  Bs[kk * bStride + nn] = col[col0 + nn, pixel k0 + kk]
        var aTile = shared.SubView(0, aTileSize);
        var bTile = shared.SubView(aTileSize, bTileSize);
        var pixelTables = shared.SubView(aTileSize + bTileSize, 2 * pixelTableSize).Cast<int>();
        var tapTable = shared.SubView(aTileSize + bTileSize + 2 * pixelTableSize, TableWidth * tileN).Cast<int>();

        // This group's output columns are taps of the patch (c, kh, kw), fixed for the whole K loop; the first slice's pixels.
        FillTapTable(tapTable, col0, n, tileN, taps, g.KW, tid, threads);
        FillPixelTable(pixelTables.SubView(0, pixelTableSize), g, t.FirstImage, kBegin, kEnd, tileK, tid, threads);
        Group.Barrier();

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        int slice = 0;
        for (int k0 = kBegin; k0 < kEnd; k0 += tileK)
        {
            var pixelTable = pixelTables.SubView((slice & 1) * pixelTableSize, pixelTableSize);
            // Stage dy: consecutive threads take consecutive pixels of one channel (contiguous within an image).
            for (int l = tid; l < tileK * tileM; l += threads)
            {
                int kk = l % tileK, mm = l / tileK;
                int gm = row0 + mm, image = pixelTable[kk];
                aTile[kk * aStride + mm] = gm < m && image >= 0
                    ? dy[((long)image * m + gm) * pixels + pixelTable[tileK + kk]]
                    : 0f;
            }
            // Gather x: consecutive threads take consecutive pixels of one tap (consecutive addresses for stride 1).
            for (int l = tid; l < tileK * tileN; l += threads)
            {
                int kk = l % tileK, j = l / tileK;
                bTile[kk * bStride + j] = Gather(x, g, tapTable, j, tileN, pixelTable, kk, tileK);
            }
            FillPixelTable(pixelTables.SubView(((slice + 1) & 1) * pixelTableSize, pixelTableSize), g, t.FirstImage,
                k0 + tileK, kEnd, tileK, tid, threads);
            Group.Barrier();

            for (int kk = 0; kk < tileK; kk++)
            {
                int ar = kk * aStride + ty, br = kk * bStride + tx;
                float a0 = aTile[ar], a1 = aTile[ar + dyGroup], a2 = aTile[ar + 2 * dyGroup], a3 = aTile[ar + 3 * dyGroup];
                float b0 = bTile[br], b1 = bTile[br + dx], b2 = bTile[br + 2 * dx], b3 = bTile[br + 3 * dx];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
            slice++;
        }

        long dstBase = (long)Grid.IdxZ * m * n;
        int col = col0 + tx;
        StoreWeightRow(dst, t, dstBase, m, n, row0 + ty, col, dx, c00, c01, c02, c03);
        StoreWeightRow(dst, t, dstBase, m, n, row0 + ty + dyGroup, col, dx, c10, c11, c12, c13);
        StoreWeightRow(dst, t, dstBase, m, n, row0 + ty + 2 * dyGroup, col, dx, c20, c21, c22, c23);
        StoreWeightRow(dst, t, dstBase, m, n, row0 + ty + 3 * dyGroup, col, dx, c30, c31, c32, c33);
    }

    /// <summary>dW[i] += Σ_s partials[s·size + i], the splits added in index order (deterministic).</summary>
    // partials (splits, size) -> dw (size) +=; one thread per dW element
    [GpuKernel(KernelGrouping.Implicit)]
    public static void SumSplits(Index1D i, FloatView partials, int splits, int size, FloatView dw)
    {
        float sum = 0f;
        for (int s = 0; s < splits; s++) sum += partials[(long)s * size + i];
        dw[i] += sum;
    }

    // col(x)[tap, pixel] = x[image, c, ih0 + kh, iw0 + kw], 0 in the padding or beyond the problem. Entry `tap` of a tap
    // table of `taps` entries, entry `pixel` of a pixel table of `pixels` entries (both field-major).
    private static float Gather(FloatView x, ConvParams g, ArrayView<int> tapTable, int tap, int taps,
        ArrayView<int> pixelTable, int pixel, int pixels)
    {
        int c = tapTable[tap], image = pixelTable[pixel];
        if (c < 0 || image < 0) return 0f;
        int ih = pixelTable[2 * pixels + pixel] + tapTable[taps + tap];
        int iw = pixelTable[3 * pixels + pixel] + tapTable[2 * taps + tap];
        if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return 0f;
        return x[(((long)image * g.C + c) * g.H + ih) * g.W + iw];
    }

    // Taps first .. first + count − 1 of the patch axis (c·KH·KW + kh·KW + kw) -> fields (c, kh, kw); at or beyond `limit`
    // -> c = −1.
    private static void FillTapTable(ArrayView<int> table, int first, int limit, int count, int taps, int kw, int tid, int threads)
    {
        for (int e = tid; e < count; e += threads)
        {
            int tap = first + e;
            if (tap < limit)
            {
                int c = tap / taps, r = tap - c * taps;
                int kh = r / kw;
                table[e] = c;
                table[count + e] = kh;
                table[2 * count + e] = r - kh * kw;
            }
            else table[e] = -1;
        }
    }

    // Pixels first .. first + count − 1 of the (images · OH · OW) axis -> fields (image, q, ih0, iw0); at or beyond `limit`
    // -> image = −1.
    private static void FillPixelTable(ArrayView<int> table, ConvParams g, int firstImage, int first, int limit, int count,
        int tid, int threads)
    {
        int pixels = g.OH * g.OW;
        for (int e = tid; e < count; e += threads)
        {
            int pixel = first + e;
            if (pixel < limit)
            {
                int image = pixel / pixels, q = pixel - image * pixels;
                int oh = q / g.OW, ow = q - oh * g.OW;
                table[e] = firstImage + image;
                table[count + e] = q;
                table[2 * count + e] = oh * g.StrideH - g.PadTop;
                table[3 * count + e] = ow * g.StrideW - g.PadLeft;
            }
            else table[e] = -1;
        }
    }

    // Writes four accumulators of output channel `oc` at the group's columns tx, tx + step, ... (NCHW), bias added.
    private static void StoreOutputRow(FloatView y, FloatView bias, ConvParams g, ImplicitGemmParams t, ArrayView<int> pixelTable,
        int pixelCount, int oc, int tx, int step, float v0, float v1, float v2, float v3)
    {
        if (oc >= g.OC) return;
        float b = t.HasBias != 0 ? bias[oc] : 0f;
        StoreOutput(y, g, pixelTable, pixelCount, oc, tx, v0 + b);
        StoreOutput(y, g, pixelTable, pixelCount, oc, tx + step, v1 + b);
        StoreOutput(y, g, pixelTable, pixelCount, oc, tx + 2 * step, v2 + b);
        StoreOutput(y, g, pixelTable, pixelCount, oc, tx + 3 * step, v3 + b);
    }

    private static void StoreOutput(FloatView y, ConvParams g, ArrayView<int> pixelTable, int pixelCount, int oc, int j, float value)
    {
        int image = pixelTable[j];
        if (image < 0) return;
        y[((long)image * g.OC + oc) * (g.OH * g.OW) + pixelTable[pixelCount + j]] = value;
    }

    private static void StoreWeightRow(FloatView dst, ImplicitGemmParams t, long dstBase, int m, int n, int row, int col, int step,
        float v0, float v1, float v2, float v3)
    {
        if (row >= m) return;
        long rowBase = dstBase + (long)row * n;
        StoreWeight(dst, t, rowBase, n, col, v0);
        StoreWeight(dst, t, rowBase, n, col + step, v1);
        StoreWeight(dst, t, rowBase, n, col + 2 * step, v2);
        StoreWeight(dst, t, rowBase, n, col + 3 * step, v3);
    }

    private static void StoreWeight(FloatView dst, ImplicitGemmParams t, long rowBase, int n, int col, float value)
    {
        if (col >= n) return;
        long at = rowBase + col;
        dst[at] = t.Accumulate != 0 ? dst[at] + value : value;
    }
}
