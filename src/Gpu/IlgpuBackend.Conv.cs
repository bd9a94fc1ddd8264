using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    /// <summary>Upper bound on the im2col scratch (floats); the batch is processed in chunks of images that fit.</summary>
    internal const int MaxColumnFloats = 1 << 25;

    private Action<Index1D, ConvParams, int, FloatView, FloatView>? _im2col;
    private Action<Index1D, ConvParams, int, FloatView, FloatView>? _col2im;

    // Forward as im2col + GEMM per chunk of images: y[n] (OC, OH·OW) = w (OC, C·KH·KW) · col[n] (C·KH·KW, OH·OW).
    // A 1×1, stride-1, unpadded convolution skips im2col: col[n] is x[n] itself.
    public void Conv2DForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g)
    {
        var p = ToParams(g);
        FloatView xv = View(x), wv = View(w), yv = View(y);
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

    public void Conv2DBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g)
    {
        var p = ToParams(g);
        FloatView xv = View(x), wv = View(w), dyv = View(dy);
        int patch = p.PatchSize, pixels = p.OutputPixels;
        if (dBias is not null) RunBiasGrad(dyv, View(dBias), p.N, p.OC, pixels);
        if (dx is null && dw is null) return;

        // dW (OC, patch) += dy[n] (OC, pixels) · col[n]ᵀ, image after image (one in-order stream: a fixed sum order).
        var weightGrad = new GemmParams
        {
            M = p.OC, N = patch, K = pixels, Lda = pixels, Ldb = pixels, Ldc = patch, TransposeB = 1, Alpha = 1f, Beta = 1f,
        };
        // dCol[n] (patch, pixels) = wᵀ (patch, OC) · dy[n] (OC, pixels), batched over the chunk.
        var columnGrad = new GemmParams
        {
            M = patch, N = pixels, K = p.OC, Lda = patch, Ldb = pixels, Ldc = pixels, TransposeA = 1, Alpha = 1f, Beta = 0f,
            BatchStrideA = 0, BatchStrideB = (long)p.OC * pixels, BatchStrideC = (long)patch * pixels,
        };
        long imageIn = (long)p.C * p.H * p.W, imageOut = (long)p.OC * pixels;

        if (IsPointwise(p))
        {
            if (dw is not null)
            {
                var dwv = View(dw);
                for (int n = 0; n < p.N; n++)
                    RunGemm(weightGrad, dyv.SubView(n * imageOut, imageOut), xv.SubView(n * imageIn, imageIn), dwv, 1);
            }
            if (dx is not null)
            {
                columnGrad.Beta = 1f; // dx[n] += wᵀ·dy[n] straight into dx
                RunGemm(columnGrad, wv, dyv, View(dx), p.N);
            }
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
                if (dw is not null)
                {
                    var dwv = View(dw);
                    Im2ColKernel()(images * patch * pixels, p, n0, xv, colView);
                    for (int j = 0; j < images; j++)
                        RunGemm(weightGrad, dyv.SubView((n0 + j) * imageOut, imageOut),
                            colView.SubView((long)j * patch * pixels, (long)patch * pixels), dwv, 1);
                }
                if (dx is not null)
                {
                    // The column buffer is reused for dCol once dW no longer needs it (same stream: in order).
                    RunGemm(columnGrad, wv, dyv.SubView(n0 * imageOut, images * imageOut), colView, images);
                    Col2ImKernel()((int)(images * imageIn), p, n0, colView, View(dx));
                }
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
