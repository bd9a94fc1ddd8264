using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tests.Kernels;

/// <summary>Plain scalar references for im2col/col2im and a direct 7-loop convolution in double, plus the awkward shapes.</summary>
public static class ConvReference
{
    /// <summary>One test geometry: (N, C, H, W), OC, kernel, stride, padding.</summary>
    public sealed record Case(int N, int C, int H, int W, int OC, int KH, int KW, int SH, int SW, Padding Padding)
    {
        public ConvGeometry Geometry =>
            ConvGeometry.Create(new Shape(N, C, H, W), new Shape(OC, C, KH, KW), SH, SW, Padding);

        public override string ToString() =>
            $"x ({N},{C},{H},{W}) w ({OC},{C},{KH},{KW}) stride ({SH},{SW}) {Padding}";
    }

    /// <summary>
    /// Kernels 1/2/3/5 (and non-square), strides 1/2/3, valid/same/explicit padding, odd sizes, C not a multiple of 16,
    /// images smaller than the kernel (with padding), batches &gt; 1. Cases the geometry rejects are left out.
    /// </summary>
    public static IEnumerable<Case> AwkwardCases()
    {
        var paddings = new[] { Padding.Valid, Padding.Same, Padding.Explicit(1, 2), Padding.Explicit(0, 3) };
        var images = new (int N, int C, int H, int W)[] { (1, 1, 1, 1), (2, 3, 7, 5), (1, 17, 6, 9), (3, 2, 2, 3), (1, 5, 11, 4) };
        var kernels = new (int KH, int KW)[] { (1, 1), (2, 2), (3, 3), (5, 5), (3, 1), (2, 5) };
        foreach (var (n, c, h, w) in images)
        foreach (var (kh, kw) in kernels)
        foreach (int s in new[] { 1, 2, 3 })
        foreach (var p in paddings)
        {
            int oc = (c + kh + s) % 4 + 1;
            var result = TryCase(new Case(n, c, h, w, oc, kh, kw, s, s == 3 ? 2 : s, p));
            if (result is not null) yield return result;
        }
    }

    private static Case? TryCase(Case c)
    {
        try { _ = c.Geometry; return c; }
        catch (ArgumentException) { return null; }
    }

    /// <summary>im2col of one image into col (C·KH·KW, OH·OW) with row stride colStride, scalar, bounds tested per element.</summary>
    public static void Im2Col(ReadOnlySpan<float> image, Span<float> col, int colStride, in ConvGeometry g)
    {
        for (int c = 0; c < g.C; c++)
        for (int kh = 0; kh < g.KH; kh++)
        for (int kw = 0; kw < g.KW; kw++)
        {
            int row = (c * g.KH + kh) * g.KW + kw;
            for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++)
            {
                int ih = oh * g.StrideH + kh - g.PadTop, iw = ow * g.StrideW + kw - g.PadLeft;
                bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
                col[row * colStride + oh * g.OW + ow] = inside ? image[(c * g.H + ih) * g.W + iw] : 0f;
            }
        }
    }

    /// <summary>image += col2im(col), scalar.</summary>
    public static void Col2ImAdd(ReadOnlySpan<float> col, int colStride, Span<float> image, in ConvGeometry g)
    {
        for (int c = 0; c < g.C; c++)
        for (int kh = 0; kh < g.KH; kh++)
        for (int kw = 0; kw < g.KW; kw++)
        {
            int row = (c * g.KH + kh) * g.KW + kw;
            for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++)
            {
                int ih = oh * g.StrideH + kh - g.PadTop, iw = ow * g.StrideW + kw - g.PadLeft;
                if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                    image[(c * g.H + ih) * g.W + iw] += col[row * colStride + oh * g.OW + ow];
            }
        }
    }

    /// <summary>
    /// Direct convolution in double: y (N, OC, OH, OW), plus yScale = Σ|terms| per output (a rounding-error yardstick).
    /// </summary>
    public static (double[] Y, double[] Scale) Forward(float[] x, float[] w, float[]? bias, in ConvGeometry g)
    {
        var y = new double[g.N * g.OC * g.OH * g.OW];
        var scale = new double[y.Length];
        for (int n = 0; n < g.N; n++)
        for (int oc = 0; oc < g.OC; oc++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        {
            double sum = bias is null ? 0 : bias[oc], abs = bias is null ? 0 : Math.Abs(bias[oc]);
            for (int c = 0; c < g.C; c++)
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int ih = oh * g.StrideH + kh - g.PadTop, iw = ow * g.StrideW + kw - g.PadLeft;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                double term = (double)x[((n * g.C + c) * g.H + ih) * g.W + iw] * w[((oc * g.C + c) * g.KH + kh) * g.KW + kw];
                sum += term;
                abs += Math.Abs(term);
            }
            int i = ((n * g.OC + oc) * g.OH + oh) * g.OW + ow;
            y[i] = sum;
            scale[i] = abs;
        }
        return (y, scale);
    }

    /// <summary>Gradients in double for upstream dy: dx, dw, dBias (not accumulated: the pure gradients), with Σ|terms| scales.</summary>
    public static (double[] Dx, double[] DxScale, double[] Dw, double[] DwScale, double[] DBias, double[] DBiasScale) Backward(
        float[] x, float[] w, float[] dy, in ConvGeometry g)
    {
        var dx = new double[x.Length]; var dxs = new double[x.Length];
        var dw = new double[w.Length]; var dws = new double[w.Length];
        var db = new double[g.OC]; var dbs = new double[g.OC];
        for (int n = 0; n < g.N; n++)
        for (int oc = 0; oc < g.OC; oc++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        {
            double d = dy[((n * g.OC + oc) * g.OH + oh) * g.OW + ow];
            db[oc] += d; dbs[oc] += Math.Abs(d);
            for (int c = 0; c < g.C; c++)
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int ih = oh * g.StrideH + kh - g.PadTop, iw = ow * g.StrideW + kw - g.PadLeft;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                int xi = ((n * g.C + c) * g.H + ih) * g.W + iw, wi = ((oc * g.C + c) * g.KH + kh) * g.KW + kw;
                dx[xi] += d * w[wi]; dxs[xi] += Math.Abs(d * w[wi]);
                dw[wi] += d * x[xi]; dws[wi] += Math.Abs(d * x[xi]);
            }
        }
        return (dx, dxs, dw, dws, db, dbs);
    }

    /// <summary>
    /// Asserts actual ≈ expected within float32 rounding: |a − e| ≤ 1e-5·scale + 1e-6, where scale is Σ|terms| (so a
    /// wrong index, a dropped term or a NaN from a forgotten element fails, and reordered float sums pass).
    /// </summary>
    public static void AssertClose(ReadOnlySpan<float> actual, double[] expected, double[] scale, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 1e-5 * scale[i] + 1e-6;
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
                Assert.Fail($"{what}: element {i} is {actual[i]:G9}, expected {expected[i]:G9} (tolerance {tol:G3}).");
        }
    }
}
