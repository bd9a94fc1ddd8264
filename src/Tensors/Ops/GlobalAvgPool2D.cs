namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>x (N, C, H, W) → (N, C): the mean of each channel plane.</summary>
    public static Tensor GlobalAvgPool2D(Tensor x) =>
        throw new NotImplementedException("GlobalAvgPool2D op: owned by the elementwise/pooling work item.");
}
