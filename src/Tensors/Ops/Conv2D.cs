using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>x (N, C, H, W), w (OC, C, KH, KW), bias (OC) or null → (N, OC, OH, OW).</summary>
    public static Tensor Conv2D(Tensor x, Tensor w, Tensor? bias, int stride, Padding padding) =>
        Conv2D(x, w, bias, stride, stride, padding);

    public static Tensor Conv2D(Tensor x, Tensor w, Tensor? bias, int strideH, int strideW, Padding padding) =>
        throw new NotImplementedException("Conv2D op: owned by the conv work item.");
}
