using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>
/// Scalars of one (batched) GEMM: C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b] for b in 0..batch−1.
/// op(A) is (M, K) and op(B) is (K, N); A is stored (K, M) when TransposeA, B is stored (N, K) when TransposeB.
/// Lda/Ldb/Ldc are row strides as STORED; a batch stride of 0 shares one operand across the batch (conv weights).
/// </summary>
public struct GemmParams
{
    public int M, N, K;
    public int Lda, Ldb, Ldc;
    public long BatchStrideA, BatchStrideB, BatchStrideC;
    public float Alpha, Beta;
    /// <summary>1 when A is stored transposed (K, M).</summary>
    public int TransposeA;
    /// <summary>1 when B is stored transposed (N, K).</summary>
    public int TransposeB;
    /// <summary>Depth of one shared-memory tile along K.</summary>
    public int TileK;
}

/// <summary>
/// Tiled SGEMM. A group of (DX, DY) threads computes a (4·DY) × (4·DX) tile of C; each thread keeps a 4 × 4 block of
/// accumulators in registers (rows ty + i·DY, columns tx + j·DX: strided, so a warp's C stores and shared-memory reads of B
/// are contiguous and its reads of A are broadcasts). The K loop stages a TileK-deep slice of op(A) and op(B) in dynamic
/// shared memory, both laid out k-major, so the inner loop reads As[k][m] and Bs[k][n] without bank conflicts.
/// The group shape comes from the accelerator at launch (16 × 16 on a GPU, 4 × 4 on ILGPU's CPU accelerator).
/// </summary>
public static class Gemm
{
    /// <summary>Accumulator rows and columns per thread (the register block).</summary>
    public const int RegisterBlock = 4;

    /// <summary>Floats of dynamic shared memory a launch needs: the A and B tiles.</summary>
    public static int SharedFloats(int groupX, int groupY, int tileK) =>
        tileK * RegisterBlock * (groupX + groupY);

    // a (batch, M, K) or (batch, K, M); b (batch, K, N) or (batch, N, K) -> c (batch, M, N)
    [GpuKernel(KernelGrouping.Explicit)]
    public static void Tiled(GemmParams p, FloatView a, FloatView b, FloatView c)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int dx = Group.DimX, dy = Group.DimY;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tileM = RegisterBlock * dy, tileN = RegisterBlock * dx, tileK = p.TileK;
        int threads = dx * dy, tid = ty * dx + tx;
        int row0 = Grid.IdxY * tileM, col0 = Grid.IdxX * tileN;
        long batch = Grid.IdxZ;
        long aBase = batch * p.BatchStrideA, bBase = batch * p.BatchStrideB, cBase = batch * p.BatchStrideC;
        int aTileSize = tileK * tileM, bTileSize = tileK * tileN;
        // As[k * tileM + m] = op(A)[row0 + m, k0 + k];  Bs[k * tileN + n] = op(B)[k0 + k, col0 + n]
        var aTile = shared.SubView(0, aTileSize);
        var bTile = shared.SubView(aTileSize, bTileSize);

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        for (int k0 = 0; k0 < p.K; k0 += tileK)
        {
            // Stage op(A): consecutive threads take consecutive addresses of A as stored (coalesced loads).
            for (int l = tid; l < aTileSize; l += threads)
            {
                int m, k;
                if (p.TransposeA != 0) { m = l % tileM; k = l / tileM; }
                else { k = l % tileK; m = l / tileK; }
                int gm = row0 + m, gk = k0 + k;
                float v = 0f;
                if (gm < p.M && gk < p.K)
                    v = p.TransposeA != 0 ? a[aBase + (long)gk * p.Lda + gm] : a[aBase + (long)gm * p.Lda + gk];
                aTile[k * tileM + m] = v;
            }
            // Stage op(B) the same way.
            for (int l = tid; l < bTileSize; l += threads)
            {
                int n, k;
                if (p.TransposeB != 0) { k = l % tileK; n = l / tileK; }
                else { n = l % tileN; k = l / tileN; }
                int gn = col0 + n, gk = k0 + k;
                float v = 0f;
                if (gn < p.N && gk < p.K)
                    v = p.TransposeB != 0 ? b[bBase + (long)gn * p.Ldb + gk] : b[bBase + (long)gk * p.Ldb + gn];
                bTile[k * tileN + n] = v;
            }
            Group.Barrier();

            for (int k = 0; k < tileK; k++)
            {
                int ar = k * tileM + ty, br = k * tileN + tx;
                float a0 = aTile[ar], a1 = aTile[ar + dy], a2 = aTile[ar + 2 * dy], a3 = aTile[ar + 3 * dy];
                float b0 = bTile[br], b1 = bTile[br + dx], b2 = bTile[br + 2 * dx], b3 = bTile[br + 3 * dx];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        int col = col0 + tx;
        StoreRow(c, p, cBase, row0 + ty, col, dx, c00, c01, c02, c03);
        StoreRow(c, p, cBase, row0 + ty + dy, col, dx, c10, c11, c12, c13);
        StoreRow(c, p, cBase, row0 + ty + 2 * dy, col, dx, c20, c21, c22, c23);
        StoreRow(c, p, cBase, row0 + ty + 3 * dy, col, dx, c30, c31, c32, c33);
    }

    // Writes four accumulators of one row (columns col, col + step, ...) that fall inside C; beta = 0 never reads C.
    private static void StoreRow(FloatView c, GemmParams p, long cBase, int row, int col, int step,
        float v0, float v1, float v2, float v3)
    {
        if (row >= p.M) return;
        long rowBase = cBase + (long)row * p.Ldc;
        Store(c, p, rowBase, col, v0);
        Store(c, p, rowBase, col + step, v1);
        Store(c, p, rowBase, col + 2 * step, v2);
        Store(c, p, rowBase, col + 3 * step, v3);
    }

    private static void Store(FloatView c, GemmParams p, long rowBase, int col, float value)
    {
        if (col >= p.N) return;
        long at = rowBase + col;
        c[at] = p.Beta == 0f ? p.Alpha * value : p.Alpha * value + p.Beta * c[at];
    }
}
