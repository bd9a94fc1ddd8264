namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>Inverted dropout, any shape: in training each element is zeroed with probability rate and the rest scaled by 1/(1−rate); identity (the same tensor) when not training.</summary>
    public static Tensor Dropout(Tensor x, float rate, bool training, ulong seed) =>
        throw new NotImplementedException("Dropout op: owned by the elementwise/pooling work item.");
}
