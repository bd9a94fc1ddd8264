using NativeConv.Layers;
using NativeConv.Layers.Init;

namespace NativeConv.Tests.Layers;

public class InitTests
{
    [Fact]
    public void Glorot_limits_follow_keras_fans()
    {
        var model = new Sequential(new Conv2D(3, 16, 3), new Flatten(), new Dense(100, 10));
        model.Initialize(5);
        var conv = model.Parameters()[0];
        var dense = model.Parameters()[2];
        Assert.Equal((float)Math.Sqrt(6.0 / (3 * 9 + 16 * 9)), Glorot.Limit(conv.FanIn, conv.FanOut));
        Assert.Equal((float)Math.Sqrt(6.0 / 110), Glorot.Limit(dense.FanIn, dense.FanOut));
        foreach (var p in new[] { conv, dense })
        {
            float limit = Glorot.Limit(p.FanIn, p.FanOut);
            var values = p.Value.ToArray();
            Assert.All(values, v => Assert.InRange(v, -limit, limit));
            // Uniform on (−limit, limit): the extremes come close to the bound, the mean close to 0,
            // the variance close to limit²/3 (a constant or a narrower range fails these).
            Assert.True(values.Max() > 0.95f * limit && values.Min() < -0.95f * limit);
            double mean = values.Average(v => (double)v);
            double variance = values.Average(v => (v - mean) * (v - mean));
            Assert.InRange(mean, -0.1 * limit, 0.1 * limit);
            Assert.InRange(variance, 0.85 * limit * limit / 3, 1.15 * limit * limit / 3);
        }
    }

    [Fact]
    public void Biases_start_at_zero_even_after_training_values_are_overwritten()
    {
        var dense = new Dense(4, 3);
        dense.Bias!.Value.CopyFrom([1f, 2f, 3f]);
        dense.Initialize(1);
        Assert.Equal(new float[3], dense.Bias.Value.ToArray());
    }

    [Fact]
    public void Seeded_and_deterministic_with_a_distinct_stream_per_parameter()
    {
        Sequential Build() => new(new Dense(8, 8), new Dense(8, 8));
        var a = Build(); a.Initialize(11);
        var b = Build(); b.Initialize(11);
        var c = Build(); c.Initialize(12);
        var pa = a.Parameters();
        Assert.Equal(pa[0].Value.ToArray(), b.Parameters()[0].Value.ToArray());
        Assert.Equal(pa[2].Value.ToArray(), b.Parameters()[2].Value.ToArray());
        Assert.NotEqual(pa[0].Value.ToArray(), c.Parameters()[0].Value.ToArray());
        // Two same-shaped layers of one model must not start identical.
        Assert.NotEqual(pa[0].Value.ToArray(), pa[2].Value.ToArray());
    }

    [Fact]
    public void Stream_values_are_fixed_across_machines()
    {
        // SplitMix64 is fully specified, so these are constants: a change here changes every model's initial weights.
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, rng.NextUInt64());
        Assert.Equal(0xCBF29CE484222325UL, SeedMixer.Hash(""));
    }
}
