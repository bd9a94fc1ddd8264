using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Inference;

/// <summary>A max-pool that could not be fused into the convolution before it.</summary>
internal sealed class MaxPoolStep(string name, Shape input, int size, int stride)
    : InferenceStep(name, input, Pooled(name, input, size, stride))
{
    private static Shape Pooled(string name, Shape input, int size, int stride)
    {
        var g = PoolGeometry.Create(new Shape(1, input[0], input[1], input[2]), size, size, stride, stride, $"inference step '{name}'");
        return new Shape(g.C, g.OH, g.OW);
    }

    public override object PlanFor(int batch) =>
        PoolGeometry.Create(new Shape(batch, Input[0], Input[1], Input[2]), size, size, stride, stride);

    public override void Run(ReadOnlySpan<float> x, Span<float> y, int batch, object? plan) =>
        MaxPoolKernel.Forward(x, y, (PoolGeometry)plan!);

    public override string Describe(int batch, object? plan) => $"{Name}: maxpool {size}×{size}/{stride} {Input} → {Output}";
}

/// <summary>Global average pooling: (C, H, W) → (C).</summary>
internal sealed class GlobalAvgPoolStep(string name, Shape input) : InferenceStep(name, input, new Shape(input[0]))
{
    public override void Run(ReadOnlySpan<float> x, Span<float> y, int batch, object? plan) =>
        GlobalAvgPool.Forward(x, y, batch * Input[0], Input[1] * Input[2]);

    public override string Describe(int batch, object? plan) => $"{Name}: global average pool {Input} → {Output}";
}

/// <summary>A ReLU on its own.</summary>
internal sealed class ReluStep(string name, Shape input) : InferenceStep(name, input, input)
{
    public override void Run(ReadOnlySpan<float> x, Span<float> y, int batch, object? plan) => Relu.Forward(x, y);

    public override string Describe(int batch, object? plan) => $"{Name}: relu {Input}";
}
