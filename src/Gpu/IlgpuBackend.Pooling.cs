using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    private Action<Index1D, PoolParams, FloatView, FloatView>? _maxForward;
    private Action<Index1D, PoolParams, FloatView, FloatView, FloatView>? _maxBackward;
    private Action<Index1D, FloatView, FloatView, int>? _avgForward;
    private Action<Index1D, FloatView, FloatView, int>? _avgBackward;

    public void MaxPool2DForward(Tensor x, Tensor y, in PoolGeometry g)
    {
        if (y.Length == 0) return;
        var kernel = _maxForward ??= Load(nameof(Pooling.MaxForward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, PoolParams, FloatView, FloatView>(Pooling.MaxForward));
        Launch(nameof(MaxPool2DForward));
        kernel(y.Length, ToParams(g), View(x), View(y));
    }

    public void MaxPool2DBackward(Tensor x, Tensor dy, Tensor dx, in PoolGeometry g, bool accumulate)
    {
        if (dx.Length == 0) return;
        var kernel = _maxBackward ??= Load(nameof(Pooling.MaxBackward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, PoolParams, FloatView, FloatView, FloatView>(Pooling.MaxBackward));
        Launch(nameof(MaxPool2DBackward));
        var p = ToParams(g);
        p.Accumulate = accumulate ? 1 : 0;
        kernel(dx.Length, p, View(x), View(dy), View(dx));
    }

    public void GlobalAvgPoolForward(Tensor x, Tensor y)
    {
        if (y.Length == 0) return;
        var kernel = _avgForward ??= Load(nameof(Pooling.AvgForward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, int>(Pooling.AvgForward));
        Launch(nameof(GlobalAvgPoolForward));
        kernel(y.Length, View(x), View(y), x.Shape[2] * x.Shape[3]);
    }

    public void GlobalAvgPoolBackward(Tensor dy, Tensor dx)
    {
        if (dx.Length == 0) return;
        var kernel = _avgBackward ??= Load(nameof(Pooling.AvgBackward),
            a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView, int>(Pooling.AvgBackward));
        Launch(nameof(GlobalAvgPoolBackward));
        kernel(dx.Length, View(dy), View(dx), dx.Shape[2] * dx.Shape[3]);
    }

    private static PoolParams ToParams(in PoolGeometry g) => new()
    {
        N = g.N, C = g.C, H = g.H, W = g.W, KH = g.KH, KW = g.KW, StrideH = g.StrideH, StrideW = g.StrideW, OH = g.OH, OW = g.OW,
    };
}
