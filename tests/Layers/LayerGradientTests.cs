using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Gradients;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Layers;

/// <summary>Every layer's backward, through the Module API, w.r.t. its input and each of its parameters.</summary>
public class LayerGradientTests
{
    /// <summary>Checks d(Σ r·layer(x))/d(x, every parameter): the parameters are passed to the checker as extra inputs.</summary>
    private static void Check(Module layer, Tensor x, double step = 1e-2)
    {
        var inputs = new List<Tensor> { x };
        foreach (var p in layer.Parameters()) inputs.Add(p.Value);
        var result = GradCheck.Run(t => layer.Forward(t[0]), inputs.ToArray(), step: step);
        Assert.True(result.Passed, result.ToString());
        Assert.True(result.Checked >= inputs.Count, result.ToString());
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 5)]
    [InlineData(4, 13, 2)]
    public void Dense(int batch, int inFeatures, int outFeatures)
    {
        var dense = new Dense(inFeatures, outFeatures);
        dense.Bias!.Value.CopyFrom(TestRandom.Uniform(outFeatures, 9));
        using var x = GradCheck.Input("x", TestRandom.Uniform(batch * inFeatures, 1), new Shape(batch, inFeatures));
        Check(dense, x);
    }

    [Theory]
    [InlineData(2, 3, 4, 7, 3, 1, PaddingMode.Same)]
    [InlineData(1, 2, 3, 6, 5, 1, PaddingMode.Same)]
    [InlineData(3, 1, 2, 8, 3, 2, PaddingMode.Valid)]
    [InlineData(2, 2, 2, 5, 3, 2, PaddingMode.Same)]
    public void Conv2D(int batch, int inChannels, int outChannels, int size, int kernel, int stride, PaddingMode mode)
    {
        var conv = new Conv2D(inChannels, outChannels, kernel, stride, new Padding(mode));
        conv.Bias!.Value.CopyFrom(TestRandom.Uniform(outChannels, 5));
        using var x = GradCheck.Input("x", TestRandom.Uniform(batch * inChannels * size * size, 2), new Shape(batch, inChannels, size, size));
        Check(conv, x);
    }

    [Theory]
    [InlineData(2, 3, 6, 2, null)]
    [InlineData(1, 2, 7, 3, 2)]
    [InlineData(3, 1, 5, 2, 1)]
    public void MaxPool2D(int batch, int channels, int size, int pool, int? stride)
    {
        // Distinct values: no tie and no max flipping under the finite-difference step.
        using var x = GradCheck.Input("x", TestRandom.Distinct(batch * channels * size * size, 3), new Shape(batch, channels, size, size));
        Check(new MaxPool2D(pool, stride), x);
    }

    [Fact]
    public void ReLU()
    {
        using var x = GradCheck.Input("x", TestRandom.AwayFromZero(2 * 3 * 5 * 5, 4), new Shape(2, 3, 5, 5));
        Check(new ReLU(), x);
    }

    [Fact]
    public void Dropout_in_training()
    {
        var dropout = new Dropout(0.4f, seed: 17);
        using var x = GradCheck.Input("x", TestRandom.Uniform(6 * 35, 5), new Shape(6, 35));
        // The checker runs the layer many times: rewind the call counter so every run draws the same mask.
        GradCheck.Assert(t => { dropout.CallCount = 0; return dropout.Forward(t[0]); }, x);

        // And the mask really drops: some outputs are zero, the rest are scaled by 1/(1 − rate).
        dropout.CallCount = 0;
        var y = dropout.Forward(x).ToArray();
        var xs = x.ToArray();
        int dropped = 0;
        for (int i = 0; i < y.Length; i++)
        {
            if (y[i] == 0f) dropped++;
            else Assert.Equal(xs[i] / 0.6f, y[i], 1e-5f);
        }
        Assert.InRange(dropped, 40, 130); // 210 × 0.4 = 84 expected
        NativeConv.Tensors.Autograd.Tape.Current.Reset();
    }

    [Fact]
    public void Dropout_draws_a_new_mask_each_call_and_repeats_from_the_same_counter()
    {
        var dropout = new Dropout(0.5f, seed: 1);
        using var x = Tensor.Filled(new Shape(4, 64), 1f);
        var first = dropout.Forward(x).ToArray();
        var second = dropout.Forward(x).ToArray();
        Assert.NotEqual(first, second);
        dropout.CallCount = 0;
        Assert.Equal(first, dropout.Forward(x).ToArray());
        NativeConv.Tensors.Autograd.Tape.Current.Reset();
    }

    [Fact]
    public void GlobalAvgPool2D()
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(3 * 4 * 5 * 3, 6), new Shape(3, 4, 5, 3));
        Check(new GlobalAvgPool2D(), x);
    }

    [Fact]
    public void Flatten()
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(2 * 3 * 4 * 5, 7), new Shape(2, 3, 4, 5));
        Check(new Flatten(), x);
    }

    [Fact]
    public void Small_sequential_cnn()
    {
        var model = new Sequential(
            new Conv2D(2, 3, 3), new ReLU(), new MaxPool2D(2),
            new Conv2D(3, 4, 3), new ReLU(),
            new GlobalAvgPool2D(),
            new Dense(4, 5), new ReLU(),
            new Dense(5, 3));
        model.Initialize(3);
        // Non-zero biases so the ReLUs see both signs from the start.
        foreach (var p in model.Parameters())
            if (p.Role == ParameterRole.Bias) p.Value.CopyFrom(TestRandom.Uniform(p.Value.Length, p.Name.Length, -0.3f, 0.3f));
        using var x = GradCheck.Input("x", TestRandom.Uniform(2 * 2 * 8 * 8, 8), new Shape(2, 2, 8, 8));
        // A composed net has a ReLU or max-pool kink near almost any point, and h = 1e-2 steps across some of them
        // (measured: 31 of 468 derivatives off by ~1e-3 with the correct ops); h = 1e-3 stays inside the linear pieces
        // and float32 rounding is still ~1e-4, well under atol.
        Check(model, x, step: 1e-3);
    }

    [Fact]
    public void Small_sequential_mlp_with_flatten()
    {
        var model = new Sequential(new Flatten(), new Dense(12, 6), new ReLU(), new Dense(6, 4));
        using var x = GradCheck.Input("x", TestRandom.Uniform(3 * 12, 9), new Shape(3, 3, 2, 2));
        Check(model, x);
    }
}
