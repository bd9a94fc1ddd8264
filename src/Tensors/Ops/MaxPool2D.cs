namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>x (N, C, H, W) → (N, C, OH, OW), square window and stride (Keras MaxPooling2D(pool) has stride = pool).</summary>
    public static Tensor MaxPool2D(Tensor x, int pool, int stride) => MaxPool2D(x, pool, pool, stride, stride);

    public static Tensor MaxPool2D(Tensor x, int poolH, int poolW, int strideH, int strideW) =>
        throw new NotImplementedException("MaxPool2D op: owned by the elementwise/pooling work item.");
}
