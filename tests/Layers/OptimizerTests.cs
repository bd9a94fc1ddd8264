using NativeConv.Layers;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;

namespace NativeConv.Tests.Layers;

/// <summary>The optimiser classes (step counting, bias correction, state, ZeroGrad); the raw kernels have their own tests.</summary>
public class OptimizerTests
{
    private static void SetGrad(Parameter p, float[] values) => Tape.Current.GradOf(p.Value).CopyFrom(values);

    [Fact]
    public void Adam_two_steps_match_the_hand_computed_keras_update()
    {
        var dense = new Dense(1, 2, useBias: false);
        var w = dense.Weight;
        w.Value.CopyFrom([1f, -2f]);
        var adam = new Adam(dense.Parameters(), lr: 0.1f);

        // Step 1, g = (0.5, −1):  m = 0.1·g = (0.05, −0.1);  v = 0.001·g² = (0.00025, 0.001)
        //   α1 = 0.1·√(1 − 0.999) / (1 − 0.9) = 0.1·0.0316227766 / 0.1 = 0.0316227766
        //   p −= α1·m / (√v + 1e-7):  √v = (0.0158113883, 0.0316227766)
        //   p = 1 − 0.0316227766·0.05/0.0158114883 = 1 − 0.09999937 = 0.90000063
        //   p = −2 + 0.0316227766·0.1/0.0316228766 = −2 + 0.09999968 = −1.90000032
        SetGrad(w, [0.5f, -1f]);
        adam.Step();
        Assert.Equal(1, adam.StepCount);
        var p1 = w.Value.ToArray();
        Assert.Equal(0.90000063, p1[0], 1e-6);
        Assert.Equal(-1.90000032, p1[1], 1e-6);

        // Step 2, g = (0.1, 2):  m = 0.9·m + 0.1·g = (0.055, 0.11);  v = 0.999·v + 0.001·g² = (0.00025975, 0.004999)
        //   α2 = 0.1·√(1 − 0.999²) / (1 − 0.9²) = 0.1·0.0447101778 / 0.19 = 0.0235316725
        //   √v = (0.0161167613, 0.0707036067)
        //   p = 0.90000063 − 0.0235316725·0.055/0.0161168613 = 0.90000063 − 0.08030360 = 0.81969703
        //   p = −1.90000032 − 0.0235316725·0.11/0.0707037067 = −1.90000032 − 0.03661030 = −1.93661062
        adam.ZeroGrad();
        Assert.Equal(new float[2], w.Grad!.ToArray());
        SetGrad(w, [0.1f, 2f]);
        adam.Step();
        Assert.Equal(2, adam.StepCount);
        var p2 = w.Value.ToArray();
        Assert.Equal(0.81969703, p2[0], 2e-6);
        Assert.Equal(-1.93661062, p2[1], 2e-6);

        // The moments are the named state a checkpoint saves.
        Assert.Equal(["weight.m", "weight.v"], adam.State.Select(s => s.Name));
        Assert.Equal(0.055, adam.State[0].Tensor.ToArray()[0], 1e-7);
        Assert.Equal(0.004999, adam.State[1].Tensor.ToArray()[1], 2e-6); // (1 − β2) is rounded in float32
        w.Value.Dispose();
    }

    [Fact]
    public void Adam_bias_correction_uses_the_restored_step_count()
    {
        // With m and v restored as after many steps of a constant gradient g (m = g, v = g²), the update is α·g/(|g| + ε):
        // α at step 1000 is lr·√(1 − 0.999¹⁰⁰⁰)/(1 − 0.9¹⁰⁰⁰) ≈ 0.795·lr; at step 1 it would be 0.316·lr.
        var dense = new Dense(1, 1, useBias: false);
        dense.Weight.Value.CopyFrom([0f]);
        var adam = new Adam(dense.Parameters(), lr: 0.01f);
        adam.State[0].Tensor.CopyFrom([1f]);
        adam.State[1].Tensor.CopyFrom([1f]);
        adam.StepCount = 999;
        SetGrad(dense.Weight, [1f]);
        adam.Step();
        double alpha = 0.01 * Math.Sqrt(1 - Math.Pow(0.999, 1000)) / (1 - Math.Pow(0.9, 1000));
        Assert.Equal(-alpha / (1 + 1e-7), dense.Weight.Value.ToArray()[0], 1e-7);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.StepCount = -1);
    }

    [Fact]
    public void Parameters_without_gradients_are_left_alone()
    {
        var a = new Dense(2, 2, useBias: false);
        var b = new Dense(2, 2, useBias: false);
        var model = new Sequential(a, b);
        var before = b.Weight.Value.ToArray();
        var adam = new Adam(model.Parameters());
        SetGrad(a.Weight, [1f, 1f, 1f, 1f]);
        adam.ZeroGrad(); // no effect on a parameter without a gradient tensor
        SetGrad(a.Weight, [1f, 1f, 1f, 1f]);
        adam.Step();
        Assert.Equal(before, b.Weight.Value.ToArray());
        Assert.Null(b.Weight.Grad);
        Assert.Equal(1, adam.StepCount);
    }

    [Fact]
    public void Sgd_with_momentum_two_steps()
    {
        var dense = new Dense(1, 1, useBias: false);
        dense.Weight.Value.CopyFrom([1f]);
        var sgd = new Sgd(dense.Parameters(), lr: 0.1f, momentum: 0.9f);
        SetGrad(dense.Weight, [2f]);
        sgd.Step(); // velocity = −0.2, p = 0.8
        Assert.Equal(0.8f, dense.Weight.Value.ToArray()[0], 1e-6f);
        sgd.ZeroGrad();
        SetGrad(dense.Weight, [1f]);
        sgd.Step(); // velocity = 0.9·(−0.2) − 0.1 = −0.28, p = 0.52
        Assert.Equal(0.52f, dense.Weight.Value.ToArray()[0], 1e-6f);
        Assert.Equal(-0.28f, sgd.State[0].Tensor.ToArray()[0], 1e-6f);
        Assert.Equal("weight.velocity", sgd.State[0].Name);
        Assert.Equal(2, sgd.StepCount);
    }

    [Fact]
    public void Bad_hyperparameters_are_rejected()
    {
        var ps = new Dense(1, 1).Parameters();
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, lr: 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, beta1: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(ps, lr: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(ps, lr: 0.1f, momentum: 1f));
    }
}
