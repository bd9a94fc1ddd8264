namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>y = x + bias on axis 1: x (N, F) with bias (F), or x (N, C, H, W) with bias (C).</summary>
    public static Tensor AddBias(Tensor x, Tensor bias) =>
        throw new NotImplementedException("AddBias op: owned by the elementwise/pooling work item.");
}
