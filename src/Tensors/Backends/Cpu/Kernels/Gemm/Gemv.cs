using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// y (rows, n) = x (rows, k) · w (k, n) + bias, then ReLU when asked — a matrix-vector product for the few rows of an
/// inference batch (1..<see cref="MaxRows"/>), on w packed once into the GEMM's B̃ panels (<see cref="Sgemm.PackB"/>:
/// panels of a few vectors' width, k-major inside). In that layout a block of four column vectors reads, down all of k,
/// a few short sequential runs the prefetchers follow; on w as given (k, n) the same block jumps a whole row of w per
/// load — two loads per 4 KiB page at n = 512 — and cifar-dense's 3072 × 512 took 2.8× longer on one Zen 3 core
/// (262 vs 94 µs). Each output is one multiply-add chain in k order from zero, the bias added last (as the GEMM + bias
/// pass does); four accumulator chains per block cover the multiply-add's latency. Written once for every width
/// (<see cref="IConvVector{TSelf}"/>); parallel over blocks of columns when w is large enough to pay for waking the
/// workers, with the same bits for any thread count.
/// </summary>
public static unsafe class Gemv
{
    /// <summary>Rows above this go to the GEMM: from there its packing of x is shared by enough rows to pay for itself.</summary>
    public const int MaxRows = 4;

    /// <summary>Below this many weights a call runs on the calling thread.</summary>
    internal const int SerialWeights = 32 * 1024;

    // Column vectors per accumulator block: four independent multiply-add chains.
    private const int BlockVectors = 4;

    /// <summary>
    /// x (rows, k), w packed in panels of <paramref name="panelWidth"/> columns (⌈n / panelWidth⌉ panels, each k rows of
    /// panelWidth floats, the last zero-padded: <see cref="Sgemm.PackB"/>'s layout), bias (n) or empty → y (rows, n),
    /// overwritten. The panel width must be a multiple of the vector width.
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, int rows, int k, ReadOnlySpan<float> packedW, int panelWidth, int n,
        ReadOnlySpan<float> bias, Span<float> y, bool relu, VectorWidth width = VectorWidth.Auto, int threads = 0)
    {
        long packedLength = panelWidth < 1 ? long.MaxValue : (long)(n + panelWidth - 1) / panelWidth * k * panelWidth;
        if (rows < 0 || k < 1 || n < 1 || x.Length < (long)rows * k || packedW.Length < packedLength || y.Length < (long)rows * n
            || (!bias.IsEmpty && bias.Length < n))
            throw new ArgumentException($"Gemv: x {x.Length}, packed w {packedW.Length} ({panelWidth}-wide panels), bias {bias.Length}, y {y.Length} do not fit rows {rows}, k {k}, n {n}.");
        width = ConvVectors.Resolve(width, "Gemv");
        int vector = ConvVectors.Lanes(width);
        if (panelWidth % vector != 0)
            throw new ArgumentException($"Gemv: {panelWidth}-wide panels do not hold whole {width} vectors of {vector}; pack w in panels of a multiple of {vector} columns.");
        if (rows == 0) return;
        int vectors = (n + vector - 1) / vector; // the last one may run past n: its lanes there are the padding's zeros
        int blocks = (vectors + BlockVectors - 1) / BlockVectors;
        if (threads <= 0) threads = ParallelFor.ThreadCount;
        // Items: column ranges of whole blocks, about two per thread, when w is big enough to share.
        int items = (long)k * n < SerialWeights || threads == 1 ? 1 : Math.Min(blocks, 2 * threads);
        float* tail = stackalloc float[16];
        fixed (float* px = x, pw = packedW, pb = bias, py = y)
        {
            var body = new Body
            {
                Tail = tail, X = px, W = pw, PanelWidth = panelWidth, Bias = bias.IsEmpty ? null : pb, Y = py, Rows = rows, K = k, N = n,
                Relu = relu, Width = width, Vectors = vectors, VectorsPerItem = (blocks + items - 1) / items * BlockVectors,
            };
            int count = (vectors + body.VectorsPerItem - 1) / body.VectorsPerItem;
            if (count == 1 || threads == 1) for (int i = 0; i < count; i++) body.Execute(i, 0);
            else ParallelFor.For(count, threads, ref body);
        }
    }

    private struct Body : IParallelBody, IConvVectorItems
    {
        public float* X, W, Bias, Y;
        /// <summary>One vector of scratch for the last, partial vector (only the item that holds it writes it).</summary>
        public float* Tail;
        public int PanelWidth, Rows, K, N, Vectors, VectorsPerItem;
        public bool Relu;
        public VectorWidth Width;

        public void Execute(int index, int worker) => ConvVectors.Run(Width, ref this, index);

        readonly void IConvVectorItems.Run<TVec>(int index) =>
            Columns<TVec>(index * VectorsPerItem, Math.Min(Vectors, index * VectorsPerItem + VectorsPerItem));

        /// <summary>Column vectors [t0, t1) (vector t: columns t·Count ..) of every row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Columns<TVec>(int t0, int t1) where TVec : struct, IConvVector<TVec>
        {
            nint stride = PanelWidth;
            for (int r = 0; r < Rows; r++)
            {
                float* xr = X + (long)r * K, yr = Y + (long)r * N;
                int t = t0;
                for (; t + BlockVectors <= t1; t += BlockVectors)
                {
                    float* w0 = Start<TVec>(t), w1 = Start<TVec>(t + 1), w2 = Start<TVec>(t + 2), w3 = Start<TVec>(t + 3);
                    TVec a0 = TVec.Broadcast(0f), a1 = a0, a2 = a0, a3 = a0;
                    for (int i = 0; i < K; i++, w0 += stride, w1 += stride, w2 += stride, w3 += stride)
                    {
                        var xi = TVec.Broadcast(xr[i]);
                        a0 = TVec.MultiplyAdd(xi, TVec.Load(w0), a0);
                        a1 = TVec.MultiplyAdd(xi, TVec.Load(w1), a1);
                        a2 = TVec.MultiplyAdd(xi, TVec.Load(w2), a2);
                        a3 = TVec.MultiplyAdd(xi, TVec.Load(w3), a3);
                    }
                    Finish(yr, t, a0); Finish(yr, t + 1, a1); Finish(yr, t + 2, a2); Finish(yr, t + 3, a3);
                }
                for (; t < t1; t++)
                {
                    float* wt = Start<TVec>(t);
                    var a = TVec.Broadcast(0f);
                    for (int i = 0; i < K; i++, wt += stride) a = TVec.MultiplyAdd(TVec.Broadcast(xr[i]), TVec.Load(wt), a);
                    Finish(yr, t, a);
                }
            }
        }

        /// <summary>Where column vector t starts in the packed panels (row 0 of its panel, at its offset inside it).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly float* Start<TVec>(int t) where TVec : struct, IConvVector<TVec>
        {
            int column = t * TVec.Count;
            return W + (long)(column / PanelWidth) * K * PanelWidth + column % PanelWidth;
        }

        // + bias, then ReLU; the lanes past n of the last vector are dropped.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Finish<TVec>(float* row, int t, TVec sum) where TVec : struct, IConvVector<TVec>
        {
            int j = t * TVec.Count;
            if (j + TVec.Count <= N)
            {
                if (Bias != null) sum += TVec.Load(Bias + j);
                TVec.Store(row + j, Relu ? TVec.Relu(sum) : sum);
                return;
            }
            // The last vector runs past n: through Tail, then lane by lane (no call here, which would make the JIT keep the
            // accumulators of the loops above in memory).
            TVec.Store(Tail, sum);
            for (int l = 0; j + l < N; l++)
            {
                var v = VecScalar.Load(Tail + l);
                if (Bias != null) v += VecScalar.Load(Bias + j + l);
                VecScalar.Store(row + j + l, Relu ? VecScalar.Relu(v) : v);
            }
        }
    }
}
