using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>Max-pool window sizes as a kernel argument: input (N, C, H, W) → output (N, C, OH, OW), no padding.</summary>
public struct PoolParams
{
    public int N, C, H, W, KH, KW, StrideH, StrideW, OH, OW;
    /// <summary>MaxBackward: 1 adds into dx, 0 overwrites it (a fresh gradient).</summary>
    public int Accumulate;
}

/// <summary>Max pooling and global average pooling.</summary>
public static class Pooling
{
    // x (N, C, H, W) -> y (N, C, OH, OW); one thread per output element.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void MaxForward(Index1D i, PoolParams g, FloatView x, FloatView y)
    {
        int ow = i % g.OW, oh = (i / g.OW) % g.OH, plane = i / (g.OW * g.OH);
        long planeBase = (long)plane * g.H * g.W;
        y[i] = WindowMax(g, x, planeBase, oh, ow);
    }

    // The IEEE 754-2019 maximum of window (oh, ow), the CPU's value: NaN if the window holds one, and +0 above −0 (so not
    // x[argmax], which is the FIRST of equal values: −0 in a window whose first zero is −0).
    private static float WindowMax(PoolParams g, FloatView x, long planeBase, int oh, int ow)
    {
        long origin = planeBase + (long)oh * g.StrideH * g.W + (long)ow * g.StrideW;
        float m = x[origin];
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
                m = IeeeMax(m, x[origin + (long)kh * g.W + kw]);
        return m;
    }

    // maximum(a, b): NaN wins; equal zeros add up to +0 unless both are −0 (equal non-zeros: either).
    private static float IeeeMax(float a, float b)
    {
        if (float.IsNaN(a)) return a;
        if (float.IsNaN(b)) return b;
        if (a > b) return a;
        if (b > a) return b;
        return a == 0f ? a + b : a;
    }

    /// <summary>
    /// dx += dy routed to each window's chosen element (first NaN, else FIRST maximum in row-major window order: the CPU's
    /// rule); the routed sum starts at +0, as the CPU's G does (dx = −0 receiving nothing becomes +0). Written as a gather: one
    /// thread per input pixel visits the windows that contain it and takes dy of those whose argmax is this pixel — no
    /// atomics even when windows overlap (stride &lt; window), so the sum order is fixed.
    /// </summary>
    // x (N, C, H, W), dy (N, C, OH, OW) -> dx (N, C, H, W); one thread per input element.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void MaxBackward(Index1D i, PoolParams g, FloatView x, FloatView dy, FloatView dx)
    {
        int w = i % g.W, h = (i / g.W) % g.H, plane = i / (g.W * g.H);
        long planeBase = (long)plane * g.H * g.W;
        int self = h * g.W + w;
        // Windows oh with oh·SH <= h <= oh·SH + KH − 1 (same for ow).
        int ohFirst = h < g.KH ? 0 : (h - g.KH) / g.StrideH + 1;
        int ohLast = IntMin(h / g.StrideH, g.OH - 1);
        int owFirst = w < g.KW ? 0 : (w - g.KW) / g.StrideW + 1;
        int owLast = IntMin(w / g.StrideW, g.OW - 1);
        float sum = 0f;
        for (int oh = ohFirst; oh <= ohLast; oh++)
            for (int ow = owFirst; ow <= owLast; ow++)
                if (WindowArgMax(g, x, planeBase, oh, ow) == self)
                    sum += dy[((long)plane * g.OH + oh) * g.OW + ow];
        dx[i] = g.Accumulate != 0 ? dx[i] + sum : sum;
    }

    // Offset (h·W + w) within the plane of the chosen element of window (oh, ow), the CPU's rule: the first NaN in row-major
    // order if the window holds one (a NaN compares false, so `v > best` alone would skip it and pick the finite maximum),
    // else the first element equal to the maximum (−0 == +0).
    private static int WindowArgMax(PoolParams g, FloatView x, long planeBase, int oh, int ow)
    {
        int h0 = oh * g.StrideH, w0 = ow * g.StrideW;
        int best = h0 * g.W + w0;
        float bestValue = x[planeBase + best];
        if (float.IsNaN(bestValue)) return best;
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int at = (h0 + kh) * g.W + w0 + kw;
                float v = x[planeBase + at];
                if (v > bestValue) { bestValue = v; best = at; }
                else if (float.IsNaN(v)) return at;
            }
        return best;
    }

    private static int IntMin(int a, int b) => a < b ? a : b;

    // x (N, C, H, W) -> y (N, C); one thread per (n, c) plane, summed in index order.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void AvgForward(Index1D i, FloatView x, FloatView y, int planeSize)
    {
        long start = (long)i.X * planeSize;
        float sum = 0f;
        for (int s = 0; s < planeSize; s++) sum += x[start + s];
        y[i] = sum / planeSize;
    }

    // dy (N, C) -> dx (N, C, H, W) += dy / (H·W); one thread per dx element.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void AvgBackward(Index1D i, FloatView dy, FloatView dx, int planeSize)
    {
        dx[i] += dy[i / planeSize] / planeSize;
    }
}
