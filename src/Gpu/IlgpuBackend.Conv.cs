using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Gpu;

/// <summary>How the ILGPU backend lowers Conv2D forward and the weight gradient (dx always goes through dCol + col2im).</summary>
internal enum ConvAlgorithm
{
    /// <summary>Implicit GEMM (<see cref="ImplicitGemmConv"/>): the column matrix is gathered tile by tile in shared memory.</summary>
    ImplicitGemm,
    /// <summary>im2col into a device buffer, then the tiled SGEMM; dW one GEMM launch per image. The reference path.</summary>
    Im2ColGemm,
}

public sealed partial class IlgpuBackend
{
    /// <summary>Upper bound on the im2col scratch (floats); the batch is processed in chunks of images that fit.</summary>
    internal const int MaxColumnFloats = 1 << 25;

    /// <summary>Implicit-GEMM launches cover at most this many GEMM columns (images · OH · OW), so indices stay in int.</summary>
    internal const int MaxImplicitColumns = 1 << 30;

    /// <summary>A weight-gradient split reduces at least this many output pixels, so its partial (OC·C·KH·KW floats written
    /// and summed again) stays small next to its multiply-adds.</summary>
    internal const int MinPixelsPerSplit = 256;

    private Action<Index1D, ConvParams, int, FloatView, FloatView>? _im2col;
    private Action<Index1D, ConvParams, int, FloatView, FloatView>? _col2im;
    private Action<KernelConfig, ConvParams, ImplicitGemmParams, FloatView, FloatView, FloatView, FloatView>? _implicitForward;
    private Action<KernelConfig, ConvParams, ImplicitGemmParams, FloatView, FloatView, FloatView>? _implicitWeightGrad;
    private Action<Index1D, FloatView, int, int, FloatView>? _sumSplits;
    private int _implicitTileK;

    /// <summary>
    /// Forward and dW lowering. Implicit GEMM is the default: im2col writes a column matrix KH·KW times the size of x to
    /// device memory and the GEMM reads it back, so a 3×3 layer moves ~18× x through DRAM before any math; gathering each
    /// tile straight from x into shared memory skips that traffic and the extra launch, and fuses the bias into the store.
    /// On the dW side it reduces a whole batch in one launch (plus one split sum) where im2col+GEMM made one tiny GEMM
    /// launch per image. Im2ColGemm stays as the reference the tests and benchmarks compare against.
    /// </summary>
    internal ConvAlgorithm ConvAlgorithm { get; set; } = ConvAlgorithm.ImplicitGemm;

    /// <summary>Tests: force the number of K splits of the implicit weight gradient (0 = chosen from the device and sizes).</summary>
    internal int ConvWeightGradSplits { get; set; }

    public void Conv2DForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g)
    {
        var p = ToParams(g);
        FloatView xv = View(x), wv = View(w), yv = View(y);
        if (ConvAlgorithm == ConvAlgorithm.ImplicitGemm)
        {
            RunImplicitForward(p, xv, wv, bias is null ? wv : View(bias), bias is not null, yv);
            return;
        }

        // im2col + GEMM per chunk of images: y[n] (OC, OH·OW) = w (OC, C·KH·KW) · col[n] (C·KH·KW, OH·OW).
        // A 1×1, stride-1, unpadded convolution skips im2col: col[n] is x[n] itself.
        int patch = p.PatchSize, pixels = p.OutputPixels;
        var gemm = new GemmParams
        {
            M = p.OC, N = pixels, K = patch, Lda = patch, Ldb = pixels, Ldc = pixels,
            BatchStrideA = 0, BatchStrideB = (long)patch * pixels, BatchStrideC = (long)p.OC * pixels, Alpha = 1f, Beta = 0f,
        };
        if (IsPointwise(p))
        {
            RunGemm(gemm, wv, xv, yv, p.N);
        }
        else
        {
            int chunk = ImagesPerChunk(p);
            var col = Allocate(chunk * patch * pixels);
            try
            {
                var colView = ((GpuStorage)col).View;
                for (int n0 = 0; n0 < p.N; n0 += chunk)
                {
                    int images = Math.Min(chunk, p.N - n0);
                    Im2ColKernel()(images * patch * pixels, p, n0, xv, colView);
                    RunGemm(gemm, wv, colView, yv.SubView((long)n0 * p.OC * pixels, (long)images * p.OC * pixels), images);
                }
            }
            finally { Release(col); } // safe before the kernels finish: one in-order stream
        }
        if (bias is not null) RunAddBias(yv, View(bias), yv, y.Length, p.OC, pixels);
    }

    public void Conv2DBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g,
        bool accumulateDx = true)
    {
        // The input-gradient kernels accumulate: a fresh dx is zeroed first (on the GPU the fill is cheap next to them).
        if (dx is not null && !accumulateDx) Fill(dx, 0f);
        var p = ToParams(g);
        FloatView xv = View(x), wv = View(w), dyv = View(dy);
        if (dBias is not null) RunBiasGrad(dyv, View(dBias), p.N, p.OC, p.OutputPixels);
        if (dw is not null)
        {
            if (ConvAlgorithm == ConvAlgorithm.ImplicitGemm) RunImplicitWeightGrad(p, xv, dyv, View(dw));
            else RunIm2ColWeightGrad(p, xv, dyv, View(dw));
        }
        if (dx is not null) RunInputGrad(p, wv, dyv, View(dx));
    }

    // ---------------------------------------------------------------- implicit GEMM

    // x (N, C, H, W), w (OC, C·KH·KW), bias (OC) -> y (N, OC, OH, OW); one launch per MaxImplicitColumns output pixels.
    private void RunImplicitForward(in ConvParams p, FloatView x, FloatView w, FloatView bias, bool hasBias, FloatView y)
    {
        var kernel = _implicitForward ??= Load(nameof(ImplicitGemmConv.Forward),
            a => a.LoadStreamKernel<ConvParams, ImplicitGemmParams, FloatView, FloatView, FloatView, FloatView>(ImplicitGemmConv.Forward));
        int side = GemmGroupSide, tile = Gemm.RegisterBlock * side, pixels = p.OutputPixels;
        int chunk = Math.Max(1, Math.Min(p.N, MaxImplicitColumns / pixels));
        var t = new ImplicitGemmParams { TileK = ImplicitTileK(), HasBias = hasBias ? 1 : 0 };
        for (int n0 = 0; n0 < p.N; n0 += chunk)
        {
            t.FirstImage = n0;
            t.Images = Math.Min(chunk, p.N - n0);
            var config = new KernelConfig(
                new Index3D(Groups(t.Images * pixels, tile), Groups(p.OC, tile), 1),
                new Index3D(side, side, 1),
                SharedMemoryConfig.RequestDynamic<float>(ImplicitGemmConv.SharedFloats(side, side, t.TileK)));
            Launch(nameof(Conv2DForward));
            kernel(config, p, t, x, w, bias, y);
        }
    }

    // x (N, C, H, W), dy (N, OC, OH, OW) -> dW (OC, C·KH·KW) +=. One launch per chunk of MaxImplicitColumns pixels (in
    // practice the whole batch), split along K when the output tiles alone cannot fill the device; the per-split partials
    // are then summed into dW in split order by a second launch. Split count depends only on the sizes and the device.
    private void RunImplicitWeightGrad(in ConvParams p, FloatView x, FloatView dy, FloatView dw)
    {
        var kernel = _implicitWeightGrad ??= Load(nameof(ImplicitGemmConv.WeightGrad),
            a => a.LoadStreamKernel<ConvParams, ImplicitGemmParams, FloatView, FloatView, FloatView>(ImplicitGemmConv.WeightGrad));
        int side = GemmGroupSide, tile = Gemm.RegisterBlock * side, pixels = p.OutputPixels, patch = p.PatchSize;
        int weights = p.OC * patch;
        int tilesM = Groups(p.OC, tile), tilesN = Groups(patch, tile);
        int chunk = Math.Max(1, Math.Min(p.N, MaxImplicitColumns / pixels));
        var t = new ImplicitGemmParams { TileK = ImplicitTileK() };
        for (int n0 = 0; n0 < p.N; n0 += chunk)
        {
            t.FirstImage = n0;
            t.Images = Math.Min(chunk, p.N - n0);
            int depth = t.Images * pixels;
            int splits = WeightGradSplits(depth, tilesM * tilesN, weights);
            // Whole TileK slices per split, then drop splits the rounding left empty.
            t.KPerSplit = Groups(Groups(depth, splits), t.TileK) * t.TileK;
            splits = Groups(depth, t.KPerSplit);
            t.Accumulate = splits == 1 ? 1 : 0;
            var config = new KernelConfig(
                new Index3D(tilesN, tilesM, splits),
                new Index3D(side, side, 1),
                SharedMemoryConfig.RequestDynamic<float>(ImplicitGemmConv.SharedFloats(side, side, t.TileK)));
            if (splits == 1)
            {
                Launch(nameof(Conv2DBackward));
                kernel(config, p, t, x, dy, dw);
                continue;
            }
            var partials = Allocate(splits * weights);
            try
            {
                var partialView = ((GpuStorage)partials).View;
                Launch(nameof(Conv2DBackward));
                kernel(config, p, t, x, dy, partialView);
                var sum = _sumSplits ??= Load(nameof(ImplicitGemmConv.SumSplits),
                    a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, int, int, FloatView>(ImplicitGemmConv.SumSplits));
                sum(weights, partialView, splits, weights, dw);
            }
            finally { Release(partials); } // one in-order stream: the next user of the buffer runs after SumSplits
        }
    }

    /// <summary>
    /// K splits of the weight gradient: enough groups for about four per multiprocessor, each split at least
    /// <see cref="MinPixelsPerSplit"/> deep, the partials no larger than the im2col scratch bound.
    /// </summary>
    private int WeightGradSplits(int depth, int outputTiles, int weights)
    {
        if (ConvWeightGradSplits > 0) return Math.Min(ConvWeightGradSplits, depth);
        int wanted = Groups(4 * Math.Max(_accelerator.NumMultiprocessors, 1), outputTiles);
        int byDepth = Math.Max(1, depth / MinPixelsPerSplit);
        int byMemory = Math.Max(1, MaxColumnFloats / Math.Max(weights, 1));
        return Math.Clamp(wanted, 1, Math.Min(byDepth, byMemory));
    }

    /// <summary>TileK of the implicit kernels: the GEMM's, halved until the tiles and tables fit the group's shared memory.</summary>
    private int ImplicitTileK()
    {
        if (_implicitTileK > 0) return _implicitTileK;
        int side = GemmGroupSide, tileK = GemmTileK;
        while (tileK > 1 && (long)ImplicitGemmConv.SharedFloats(side, side, tileK) * sizeof(float) > _accelerator.MaxSharedMemoryPerGroup)
            tileK /= 2;
        return _implicitTileK = tileK;
    }

    // ---------------------------------------------------------------- im2col + GEMM

    // dW (OC, patch) += dy[n] (OC, pixels) · col[n]ᵀ, image after image (one in-order stream: a fixed sum order).
    private void RunIm2ColWeightGrad(in ConvParams p, FloatView x, FloatView dy, FloatView dw)
    {
        int patch = p.PatchSize, pixels = p.OutputPixels;
        var weightGrad = new GemmParams
        {
            M = p.OC, N = patch, K = pixels, Lda = pixels, Ldb = pixels, Ldc = patch, TransposeB = 1, Alpha = 1f, Beta = 1f,
        };
        long imageIn = (long)p.C * p.H * p.W, imageOut = (long)p.OC * pixels;
        if (IsPointwise(p))
        {
            for (int n = 0; n < p.N; n++)
                RunGemm(weightGrad, dy.SubView(n * imageOut, imageOut), x.SubView(n * imageIn, imageIn), dw, 1);
            return;
        }
        int chunk = ImagesPerChunk(p);
        var col = Allocate(chunk * patch * pixels);
        try
        {
            var colView = ((GpuStorage)col).View;
            for (int n0 = 0; n0 < p.N; n0 += chunk)
            {
                int images = Math.Min(chunk, p.N - n0);
                Im2ColKernel()(images * patch * pixels, p, n0, x, colView);
                for (int j = 0; j < images; j++)
                    RunGemm(weightGrad, dy.SubView((n0 + j) * imageOut, imageOut),
                        colView.SubView((long)j * patch * pixels, (long)patch * pixels), dw, 1);
            }
        }
        finally { Release(col); }
    }

    // dx += col2im(wᵀ · dy[n]) per chunk of images: dCol[n] (patch, pixels) = wᵀ (patch, OC) · dy[n] (OC, pixels) batched
    // over the chunk, then a deterministic gather into dx. A pointwise convolution writes wᵀ · dy[n] straight into dx.
    private void RunInputGrad(in ConvParams p, FloatView w, FloatView dy, FloatView dx)
    {
        int patch = p.PatchSize, pixels = p.OutputPixels;
        var columnGrad = new GemmParams
        {
            M = patch, N = pixels, K = p.OC, Lda = patch, Ldb = pixels, Ldc = pixels, TransposeA = 1, Alpha = 1f, Beta = 0f,
            BatchStrideA = 0, BatchStrideB = (long)p.OC * pixels, BatchStrideC = (long)patch * pixels,
        };
        long imageIn = (long)p.C * p.H * p.W, imageOut = (long)p.OC * pixels;
        if (IsPointwise(p))
        {
            columnGrad.Beta = 1f; // dx[n] += wᵀ·dy[n]
            RunGemm(columnGrad, w, dy, dx, p.N);
            return;
        }
        int chunk = ImagesPerChunk(p);
        var col = Allocate(chunk * patch * pixels);
        try
        {
            var colView = ((GpuStorage)col).View;
            for (int n0 = 0; n0 < p.N; n0 += chunk)
            {
                int images = Math.Min(chunk, p.N - n0);
                RunGemm(columnGrad, w, dy.SubView(n0 * imageOut, images * imageOut), colView, images);
                Col2ImKernel()((int)(images * imageIn), p, n0, colView, dx);
            }
        }
        finally { Release(col); }
    }

    private Action<Index1D, ConvParams, int, FloatView, FloatView> Im2ColKernel() =>
        _im2col ??= Load(nameof(Im2Col.Gather),
            a => a.LoadAutoGroupedStreamKernel<Index1D, ConvParams, int, FloatView, FloatView>(Im2Col.Gather));

    private Action<Index1D, ConvParams, int, FloatView, FloatView> Col2ImKernel() =>
        _col2im ??= Load(nameof(Im2Col.ScatterAdd),
            a => a.LoadAutoGroupedStreamKernel<Index1D, ConvParams, int, FloatView, FloatView>(Im2Col.ScatterAdd));

    private static bool IsPointwise(in ConvParams p) =>
        p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadTop == 0 && p.PadLeft == 0 && p.OH == p.H && p.OW == p.W;

    private static int ImagesPerChunk(in ConvParams p)
    {
        long perImage = (long)p.PatchSize * p.OutputPixels;
        return (int)Math.Clamp(MaxColumnFloats / Math.Max(perImage, 1), 1, p.N);
    }

    private static ConvParams ToParams(in ConvGeometry g) => new()
    {
        N = g.N, C = g.C, H = g.H, W = g.W, OC = g.OC, KH = g.KH, KW = g.KW,
        StrideH = g.StrideH, StrideW = g.StrideW, PadTop = g.PadTop, PadLeft = g.PadLeft, OH = g.OH, OW = g.OW,
    };
}
