using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>
/// Convolution sizes as a plain kernel argument (a copy of Tensors' ConvGeometry): input (N, C, H, W), weights
/// (OC, C, KH, KW), output (N, OC, OH, OW); PadTop/PadLeft zero rows/columns before the image.
/// </summary>
public struct ConvParams
{
    public int N, C, H, W, OC, KH, KW, StrideH, StrideW, PadTop, PadLeft, OH, OW;

    public readonly int PatchSize => C * KH * KW;
    public readonly int OutputPixels => OH * OW;
}

/// <summary>
/// im2col and its adjoint col2im for a chunk of images starting at image n0. The column matrix of one image is
/// (C·KH·KW, OH·OW): row p = (c, kh, kw), column q = (oh, ow), so conv = W (OC, C·KH·KW) · col.
/// </summary>
public static class Im2Col
{
    // x (N, C, H, W) -> col (images, C·KH·KW, OH·OW) for images n0 .. n0 + images − 1; one thread per col element.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Gather(Index1D i, ConvParams g, int n0, FloatView x, FloatView col)
    {
        int pixels = g.OH * g.OW, patch = g.C * g.KH * g.KW;
        int q = i % pixels;
        int t = i / pixels;
        int p = t % patch;
        int image = t / patch;
        int kw = p % g.KW;
        int kh = (p / g.KW) % g.KH;
        int c = p / (g.KW * g.KH);
        int oh = q / g.OW, ow = q - oh * g.OW;
        int ih = oh * g.StrideH - g.PadTop + kh;
        int iw = ow * g.StrideW - g.PadLeft + kw;
        float v = 0f;
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
            v = x[(((long)(n0 + image) * g.C + c) * g.H + ih) * g.W + iw];
        col[i] = v;
    }

    /// <summary>
    /// dx += col2im(dCol) as a GATHER: one thread per input pixel sums every (kh, kw) tap whose output position lands on it,
    /// in a fixed order — no atomics, so the result is deterministic.
    /// </summary>
    // dCol (images, C·KH·KW, OH·OW) -> dx (N, C, H, W) for images n0 .. n0 + images − 1; one thread per dx element.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void ScatterAdd(Index1D i, ConvParams g, int n0, FloatView dCol, FloatView dx)
    {
        int pixels = g.OH * g.OW, patch = g.C * g.KH * g.KW;
        int w = i % g.W;
        int h = (i / g.W) % g.H;
        int c = (i / (g.W * g.H)) % g.C;
        int image = i / (g.W * g.H * g.C);
        long colBase = (long)image * patch * pixels;
        float sum = 0f;
        for (int kh = 0; kh < g.KH; kh++)
        {
            int th = h + g.PadTop - kh;
            if (th < 0 || th % g.StrideH != 0) continue;
            int oh = th / g.StrideH;
            if (oh >= g.OH) continue;
            for (int kw = 0; kw < g.KW; kw++)
            {
                int tw = w + g.PadLeft - kw;
                if (tw < 0 || tw % g.StrideW != 0) continue;
                int ow = tw / g.StrideW;
                if (ow >= g.OW) continue;
                int p = (c * g.KH + kh) * g.KW + kw;
                sum += dCol[colBase + (long)p * pixels + oh * g.OW + ow];
            }
        }
        dx[(long)n0 * g.C * g.H * g.W + i] += sum;
    }
}
