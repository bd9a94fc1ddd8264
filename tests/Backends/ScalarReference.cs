using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tests.Backends;

/// <summary>
/// Plain loops straight from the definitions (double accumulators), the ground truth every backend's kernels are
/// compared with. Forward references return fresh arrays; backward references ACCUMULATE into their gradient arrays,
/// like the kernels.
/// </summary>
public static class ScalarReference
{
    // c = alpha·op(a)·op(b) + beta·c; a stored (M, K) or (K, M), b stored (K, N) or (N, K).
    public static float[] MatMul(float[] a, bool transposeA, float[] b, bool transposeB, float[] c, int m, int n, int k, float alpha, float beta)
    {
        var result = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(transposeA ? a[p * m + i] : a[i * k + p]) * (transposeB ? b[j * k + p] : b[p * n + j]);
                result[i * n + j] = (float)(alpha * sum + (beta == 0f ? 0.0 : (double)beta * c[i * n + j]));
            }
        return result;
    }

    // x (N, C, inner), bias (C) -> y
    public static float[] AddBias(float[] x, float[] bias, int channels, int inner)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] + bias[i / inner % channels];
        return y;
    }

    // dy (N, C, inner) -> dBias (C) +=
    public static void BiasGrad(float[] dy, float[] dBias, int channels, int inner)
    {
        var sums = new double[channels];
        for (int i = 0; i < dy.Length; i++) sums[i / inner % channels] += dy[i];
        for (int c = 0; c < channels; c++) dBias[c] += (float)sums[c];
    }

    private static int Index(in ConvGeometry g, int n, int c, int h, int w) => ((n * g.C + c) * g.H + h) * g.W + w;

    // x (N, C, H, W), w (OC, C, KH, KW), bias (OC)? -> y (N, OC, OH, OW)
    public static float[] Conv2D(float[] x, float[] w, float[]? bias, in ConvGeometry g)
    {
        var y = new float[g.N * g.OC * g.OH * g.OW];
        for (int n = 0; n < g.N; n++)
            for (int oc = 0; oc < g.OC; oc++)
                for (int oh = 0; oh < g.OH; oh++)
                    for (int ow = 0; ow < g.OW; ow++)
                    {
                        double sum = bias?[oc] ?? 0f;
                        for (int c = 0; c < g.C; c++)
                            for (int kh = 0; kh < g.KH; kh++)
                                for (int kw = 0; kw < g.KW; kw++)
                                {
                                    int ih = oh * g.StrideH - g.PadTop + kh, iw = ow * g.StrideW - g.PadLeft + kw;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    sum += (double)x[Index(g, n, c, ih, iw)] * w[((oc * g.C + c) * g.KH + kh) * g.KW + kw];
                                }
                        y[((n * g.OC + oc) * g.OH + oh) * g.OW + ow] = (float)sum;
                    }
        return y;
    }

    // Accumulates dx, dw, dBias (any may be null) of the convolution given dy (N, OC, OH, OW).
    public static void Conv2DBackward(float[] x, float[] w, float[] dy, float[]? dx, float[]? dw, float[]? dBias, in ConvGeometry g)
    {
        var dxSum = new double[x.Length];
        var dwSum = new double[w.Length];
        var dbSum = new double[g.OC];
        for (int n = 0; n < g.N; n++)
            for (int oc = 0; oc < g.OC; oc++)
                for (int oh = 0; oh < g.OH; oh++)
                    for (int ow = 0; ow < g.OW; ow++)
                    {
                        double d = dy[((n * g.OC + oc) * g.OH + oh) * g.OW + ow];
                        dbSum[oc] += d;
                        for (int c = 0; c < g.C; c++)
                            for (int kh = 0; kh < g.KH; kh++)
                                for (int kw = 0; kw < g.KW; kw++)
                                {
                                    int ih = oh * g.StrideH - g.PadTop + kh, iw = ow * g.StrideW - g.PadLeft + kw;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    int xi = Index(g, n, c, ih, iw), wi = ((oc * g.C + c) * g.KH + kh) * g.KW + kw;
                                    dxSum[xi] += d * w[wi];
                                    dwSum[wi] += d * x[xi];
                                }
                    }
        if (dx is not null) for (int i = 0; i < dx.Length; i++) dx[i] += (float)dxSum[i];
        if (dw is not null) for (int i = 0; i < dw.Length; i++) dw[i] += (float)dwSum[i];
        if (dBias is not null) for (int i = 0; i < dBias.Length; i++) dBias[i] += (float)dbSum[i];
    }

    // Offset within the plane of window (oh, ow)'s chosen element: its FIRST NaN in row-major order if it holds one (the value
    // is then NaN, as in PyTorch), else its FIRST maximum (−0 == +0).
    internal static int ArgMax(float[] x, int planeBase, in PoolGeometry g, int oh, int ow)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int at = (oh * g.StrideH + kh) * g.W + ow * g.StrideW + kw;
                if (float.IsNaN(x[planeBase + at])) return at;
                if (best < 0 || x[planeBase + at] > bestValue) { best = at; bestValue = x[planeBase + at]; }
            }
        return best;
    }

    // x (N, C, H, W) -> y (N, C, OH, OW): the IEEE 754-2019 maximum of each window (NaN if it holds one, +0 above −0).
    public static float[] MaxPool(float[] x, in PoolGeometry g)
    {
        var y = new float[g.N * g.C * g.OH * g.OW];
        for (int plane = 0; plane < g.N * g.C; plane++)
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                {
                    float m = float.NegativeInfinity;
                    for (int kh = 0; kh < g.KH; kh++)
                        for (int kw = 0; kw < g.KW; kw++)
                            m = MathF.Max(m, x[plane * g.H * g.W + (oh * g.StrideH + kh) * g.W + ow * g.StrideW + kw]);
                    y[(plane * g.OH + oh) * g.OW + ow] = m;
                }
        return y;
    }

    // dx += G, G = the dy routed to each window's chosen element, summed from +0 (so a −0 gradient, or none, adds +0).
    public static void MaxPoolBackward(float[] x, float[] dy, float[] dx, in PoolGeometry g)
    {
        var sums = new double[dx.Length];
        for (int plane = 0; plane < g.N * g.C; plane++)
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                    sums[plane * g.H * g.W + ArgMax(x, plane * g.H * g.W, g, oh, ow)] += dy[(plane * g.OH + oh) * g.OW + ow];
        for (int i = 0; i < dx.Length; i++) dx[i] += (float)sums[i];
    }

    // x (planes, size) -> y (planes)
    public static float[] GlobalAvgPool(float[] x, int planes, int size)
    {
        var y = new float[planes];
        for (int p = 0; p < planes; p++)
        {
            double sum = 0;
            for (int s = 0; s < size; s++) sum += x[p * size + s];
            y[p] = (float)(sum / size);
        }
        return y;
    }

    public static void GlobalAvgPoolBackward(float[] dy, float[] dx, int size)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += (float)((double)dy[i / size] / size);
    }

    // logits (N, K), labels (N) -> probabilities (N, K), mean loss; plain double precision in the stable form (row max
    // subtracted), so the reference itself survives logits of ±1000.
    public static (double[] Probabilities, double Loss) SoftmaxCrossEntropyExact(float[] logits, float[] labels, int rows, int classes)
    {
        var p = new double[logits.Length];
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, logits[r * classes + k]);
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += Math.Exp(logits[r * classes + k] - max);
            for (int k = 0; k < classes; k++) p[r * classes + k] = Math.Exp(logits[r * classes + k] - max) / sum;
            loss += Math.Log(sum) - (logits[r * classes + (int)labels[r]] - max);
        }
        return (p, loss / rows);
    }

    // The same, rounded to float32 like a backend's outputs.
    public static (float[] Probabilities, float Loss) SoftmaxCrossEntropy(float[] logits, float[] labels, int rows, int classes)
    {
        var (exact, loss) = SoftmaxCrossEntropyExact(logits, labels, rows, classes);
        var p = new float[exact.Length];
        for (int i = 0; i < p.Length; i++) p[i] = (float)exact[i];
        return (p, (float)loss);
    }

    public static void SoftmaxCrossEntropyBackward(float[] p, float[] labels, float dLoss, float[] dLogits, int rows, int classes)
    {
        for (int i = 0; i < p.Length; i++)
        {
            int r = i / classes, k = i % classes;
            dLogits[i] += (float)(dLoss * (p[i] - (k == (int)labels[r] ? 1.0 : 0.0)) / rows);
        }
    }

    public static void Adam(float[] p, float[] g, float[] m, float[] v, in AdamStep step)
    {
        double alpha = step.CorrectedLearningRate;
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = step.Beta1 * m[i] + (1 - step.Beta1) * g[i];
            v[i] = step.Beta2 * v[i] + (1 - step.Beta2) * g[i] * g[i];
            p[i] = (float)(p[i] - alpha * m[i] / (Math.Sqrt(v[i]) + step.Epsilon));
        }
    }

    public static void Sgd(float[] p, float[] g, float[] velocity, float lr, float momentum)
    {
        for (int i = 0; i < p.Length; i++)
        {
            velocity[i] = momentum * velocity[i] - lr * g[i];
            p[i] += velocity[i];
        }
    }
}
