using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// y (rows, n) = x (rows, k) · w (k, n) + bias, then ReLU when asked — a matrix-vector product for the few rows of an
/// inference batch (1..<see cref="MaxRows"/>). The GEMM would pack all of w for a single row of x (w is its B side), so
/// a Dense layer at batch 1 spends its time copying weights; here w streams through once per row, each of its rows meeting
/// the row's accumulators, vectorised over n (four vectors per block, then single vectors, then scalars), written once
/// for every width (<see cref="IConvVector{TSelf}"/>). Parallel over blocks of columns when w is large enough to pay for
/// waking the workers. Summation over k is in index order per output (a fixed order: the same bits for any thread count).
/// </summary>
public static unsafe class Gemv
{
    /// <summary>Rows above this go to the GEMM: from there its packing is shared by enough rows to pay for itself.</summary>
    public const int MaxRows = 4;

    /// <summary>Below this many weights a call runs on the calling thread.</summary>
    internal const int SerialWeights = 32 * 1024;

    /// <summary>x (rows, k), w (k, n), bias (n) or empty → y (rows, n), overwritten.</summary>
    public static void Run(ReadOnlySpan<float> x, int rows, int k, ReadOnlySpan<float> w, int n, ReadOnlySpan<float> bias,
        Span<float> y, bool relu, ConvVectorWidth width = ConvVectorWidth.Auto, int threads = 0)
    {
        if (rows < 0 || k < 1 || n < 1 || x.Length < (long)rows * k || w.Length < (long)k * n || y.Length < (long)rows * n
            || (!bias.IsEmpty && bias.Length < n))
            throw new ArgumentException($"Gemv: x {x.Length}, w {w.Length}, bias {bias.Length}, y {y.Length} do not fit rows {rows}, k {k}, n {n}.");
        if (rows == 0) return;
        width = ConvVectors.Resolve(width, "Gemv");
        int vector = width switch { ConvVectorWidth.Vector512 => 16, ConvVectorWidth.Vector256 => 8, ConvVectorWidth.Vector128 => 4, _ => 1 };
        int block = 4 * vector;
        int blocks = (n + block - 1) / block;
        if (threads <= 0) threads = ParallelFor.ThreadCount;
        // Items: column ranges of whole blocks, about two per thread, when w is big enough to share.
        int items = (long)k * n < SerialWeights || threads == 1 ? 1 : Math.Min(blocks, 2 * threads);
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            var body = new Body
            {
                X = px, W = pw, Bias = bias.IsEmpty ? null : pb, Y = py, Rows = rows, K = k, N = n, Relu = relu,
                Width = width, BlocksPerItem = (blocks + items - 1) / items, Block = block,
            };
            int count = (blocks + body.BlocksPerItem - 1) / body.BlocksPerItem;
            if (count == 1 || threads == 1) for (int i = 0; i < count; i++) body.Execute(i, 0);
            else ParallelFor.For(count, ref body);
        }
    }

    private struct Body : IParallelBody
    {
        public float* X, W, Bias, Y;
        public int Rows, K, N, BlocksPerItem, Block;
        public bool Relu;
        public ConvVectorWidth Width;

        public readonly void Execute(int index, int worker)
        {
            int j0 = index * BlocksPerItem * Block, j1 = Math.Min(N, j0 + BlocksPerItem * Block);
            switch (Width)
            {
                case ConvVectorWidth.Vector512: Columns<Vec512>(j0, j1); break;
                case ConvVectorWidth.Vector256: Columns<Vec256>(j0, j1); break;
                case ConvVectorWidth.Vector128: Columns<Vec128>(j0, j1); break;
                default: Columns<VecScalar>(j0, j1); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Columns<TVec>(int j0, int j1) where TVec : struct, IConvVector<TVec>
        {
            int v = TVec.Count;
            for (int r = 0; r < Rows; r++)
            {
                float* xr = X + (long)r * K, yr = Y + (long)r * N;
                int j = j0;
                for (; j + 4 * v <= j1; j += 4 * v)
                {
                    TVec a0 = TVec.Broadcast(0f), a1 = a0, a2 = a0, a3 = a0;
                    float* wj = W + j;
                    for (int i = 0; i < K; i++, wj += N)
                    {
                        var xi = TVec.Broadcast(xr[i]);
                        a0 = TVec.MultiplyAdd(xi, TVec.Load(wj), a0);
                        a1 = TVec.MultiplyAdd(xi, TVec.Load(wj + v), a1);
                        a2 = TVec.MultiplyAdd(xi, TVec.Load(wj + 2 * v), a2);
                        a3 = TVec.MultiplyAdd(xi, TVec.Load(wj + 3 * v), a3);
                    }
                    Finish(yr, j, a0); Finish(yr, j + v, a1); Finish(yr, j + 2 * v, a2); Finish(yr, j + 3 * v, a3);
                }
                for (; j + v <= j1; j += v)
                {
                    var a = TVec.Broadcast(0f);
                    float* wj = W + j;
                    for (int i = 0; i < K; i++, wj += N) a = TVec.MultiplyAdd(TVec.Broadcast(xr[i]), TVec.Load(wj), a);
                    Finish(yr, j, a);
                }
                for (; j < j1; j++)
                {
                    var a = VecScalar.Broadcast(0f);
                    float* wj = W + j;
                    for (int i = 0; i < K; i++, wj += N) a = VecScalar.MultiplyAdd(VecScalar.Broadcast(xr[i]), VecScalar.Load(wj), a);
                    Finish(yr, j, a);
                }
            }
        }

        // The accumulators start at zero and the bias is added last, as the GEMM + bias pass does.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Finish<TVec>(float* row, int j, TVec sum) where TVec : struct, IConvVector<TVec>
        {
            if (Bias != null) sum += TVec.Load(Bias + j);
            TVec.Store(row + j, Relu ? TVec.Relu(sum) : sum);
        }
    }
}
