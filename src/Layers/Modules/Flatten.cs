using NativeConv.Tensors;
using NativeConv.Tensors.Ops;

namespace NativeConv.Layers;

/// <summary>(N, d1, d2, ...) → (N, d1·d2·...), row-major (an NCHW image flattens channel by channel). A view: no copy.</summary>
public sealed class Flatten : Module
{
    public Flatten() : base("flatten") { }

    public override Tensor Forward(Tensor x) => Op.Flatten(x);

    public override Shape OutputShape(Shape input)
    {
        if (input.Rank < 1)
            throw new ArgumentException($"Flatten '{Name}': input must have a batch axis; got {input}.");
        return new Shape(input[0], input.SizeFrom(1));
    }
}
