using NativeConv.Tensors;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

/// <summary>GradCheck for AddBias, MaxPool2D, GlobalAvgPool2D, Dropout and SoftmaxCrossEntropy (batch &gt; 1, odd sizes).</summary>
public class PoolingBiasLossGradientTests
{
    [Theory]
    [InlineData(5, 7)]
    [InlineData(1, 1)]
    [InlineData(3, 33)]
    public void AddBias_dense(int batch, int features)
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(batch * features, 1), new Shape(batch, features));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(features, 2), new Shape(features));
        GradCheck.Assert(t => Op.AddBias(t[0], t[1]), x, b);
    }

    [Theory]
    [InlineData(3, 5, 4, 3)]
    [InlineData(2, 1, 7, 9)]
    [InlineData(2, 17, 1, 1)]
    public void AddBias_images(int n, int c, int h, int w)
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(n * c * h * w, 3), new Shape(n, c, h, w));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(c, 4), new Shape(c));
        GradCheck.Assert(t => Op.AddBias(t[0], t[1]), x, b);
    }

    [Fact]
    public void AddBias_used_twice_accumulates()
    {
        // The same bias added twice: its gradient is the sum of both paths.
        using var x = GradCheck.Input("x", TestRandom.Uniform(4 * 6, 5), new Shape(4, 6));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(6, 6), new Shape(6));
        GradCheck.Assert(t => Op.AddBias(Op.AddBias(t[0], t[1]), t[1]), x, b);
    }

    [Theory]
    [InlineData(2, 3, 7, 9, 2, 2)]    // odd sizes, floor
    [InlineData(2, 2, 6, 40, 2, 2)]   // wide enough for the 2×2 vector path
    [InlineData(2, 3, 7, 9, 3, 2)]    // window 3 stride 2 (overlap)
    [InlineData(2, 3, 5, 6, 2, 1)]    // window 2 stride 1 (overlap, accumulation)
    public void MaxPool2D(int n, int c, int h, int w, int pool, int stride)
    {
        // Distinct values with gaps of 0.05 ≫ the 0.01 finite-difference step: no window's argmax flips while probing.
        using var x = GradCheck.Input("x", TestRandom.Distinct(n * c * h * w, 7), new Shape(n, c, h, w));
        GradCheck.Assert(t => Op.MaxPool2D(t[0], pool, stride), x);
    }

    [Theory]
    [InlineData(3, 5, 4, 7)]
    [InlineData(2, 1, 1, 1)]
    [InlineData(2, 17, 3, 3)]
    public void GlobalAvgPool2D(int n, int c, int h, int w)
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(n * c * h * w, 8), new Shape(n, c, h, w));
        GradCheck.Assert(t => Op.GlobalAvgPool2D(t[0]), x);
    }

    [Theory]
    [InlineData(0.3f)]
    [InlineData(0.5f)]
    public void Dropout_in_training(float rate)
    {
        // A fixed seed makes every evaluation draw the same mask, so the op is linear in x and the check is exact.
        using var x = GradCheck.Input("x", TestRandom.Uniform(2 * 3 * 5 * 7, 9), new Shape(2, 3, 5, 7));
        GradCheck.Assert(t => Op.Dropout(t[0], rate, training: true, seed: 77), x);
    }

    [Theory]
    [InlineData(5, 7)]
    [InlineData(3, 10)]
    [InlineData(1, 3)]
    public void SoftmaxCrossEntropy_wrt_logits(int batch, int classes)
    {
        using var logits = GradCheck.Input("logits", TestRandom.Uniform(batch * classes, 10, -2f, 2f), new Shape(batch, classes));
        var labelValues = new float[batch];
        for (int i = 0; i < batch; i++) labelValues[i] = (i * 3 + 1) % classes;
        using var labels = Tensor.FromArray(labelValues, new Shape(batch)); // no grad: class indices
        GradCheck.Assert(t => Op.SoftmaxCrossEntropy(t[0], t[1]), logits, labels);
    }

    [Fact]
    public void Small_network_chain()
    {
        // Bias → ReLU-free chain through pooling into the loss: every backward composes with the next.
        using var x = GradCheck.Input("x", TestRandom.Distinct(2 * 3 * 6 * 6, 11), new Shape(2, 3, 6, 6));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(3, 12), new Shape(3));
        using var labels = Tensor.FromArray([2f, 0f], new Shape(2));
        GradCheck.Assert(t => Op.SoftmaxCrossEntropy(Op.GlobalAvgPool2D(Op.MaxPool2D(Op.AddBias(t[0], t[1]), 2, 2)), t[2]), x, b, labels);
    }
}
