using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>Max pooling over square windows, no padding: (N, C, H, W) → (N, C, OH, OW). Stride defaults to the pool size (Keras).</summary>
public sealed class MaxPool2D : Module
{
    public MaxPool2D(int pool, int? stride = null) : base("pool")
    {
        if (pool < 1 || stride is < 1)
            throw new ArgumentException($"MaxPool2D: pool ({pool}) and stride ({stride}) must be >= 1.");
        Pool = pool;
        Stride = stride ?? pool;
    }

    public int Pool { get; }
    public int Stride { get; }

    public override Tensor Forward(Tensor x) => Op.MaxPool2D(x, Pool, Stride);

    public override Shape OutputShape(Shape input) =>
        PoolGeometry.Create(input, Pool, Pool, Stride, Stride, $"MaxPool2D '{Name}'").OutputShape;
}
