using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class BiasKernelTests
{
    private static void CheckForward(int batch, int channels, int spatial, int seed)
    {
        var x = TestRandom.Uniform(batch * channels * spatial, seed);
        var bias = TestRandom.Uniform(channels, seed + 1);
        var y = KernelSweep.Poisoned(x.Length);
        Bias.Forward(x, bias, y, batch, channels, spatial);

        var expected = new float[x.Length];
        for (int n = 0; n < batch; n++)
        for (int c = 0; c < channels; c++)
        for (int s = 0; s < spatial; s++)
        {
            int i = (n * channels + c) * spatial + s;
            expected[i] = x[i] + bias[c];
        }
        KernelSweep.Exact(expected, y, $"Bias.Forward ({batch}, {channels}, {spatial})");
    }

    private static void CheckBackward(int batch, int channels, int spatial, int seed)
    {
        var dy = TestRandom.Uniform(batch * channels * spatial, seed);
        var dBias = TestRandom.Uniform(channels, seed + 1); // accumulates: start from non-zero
        var expected = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < batch; n++)
            for (int s = 0; s < spatial; s++)
                sum += dy[(n * channels + c) * spatial + s];
            expected[c] = dBias[c] + sum;
        }
        Bias.Backward(dy, dBias, batch, channels, spatial);
        // Sums of up to ~10⁵ terms of size ≤ 1 in float: error bound ~ terms·ε·|term|, so an absolute tolerance scaled by size.
        KernelSweep.Close(expected, dBias, 1e-5, 1e-6 * batch * spatial, $"Bias.Backward ({batch}, {channels}, {spatial})");
    }

    [Fact]
    public void Dense_forward_and_grad_match_reference_for_every_width()
    {
        foreach (int f in KernelSweep.Lengths)
        {
            CheckForward(3, f, 1, f);
            CheckBackward(3, f, 1, f);
        }
    }

    [Fact]
    public void Image_forward_and_grad_match_reference_for_every_plane_size()
    {
        foreach (int s in KernelSweep.Lengths)
        {
            CheckForward(2, 3, s, s);
            CheckBackward(2, 3, s, s);
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 17, 63)]      // 7×9 planes
    [InlineData(5, 3, 25)]
    [InlineData(0, 4, 9)]        // empty batch: nothing to do, dBias unchanged
    [InlineData(128, 300, 1)]    // dense, big enough to run in parallel column strips
    [InlineData(8, 32, 1024)]    // 32×32 images, parallel over planes / channels
    public void Awkward_and_large_shapes_match_reference(int batch, int channels, int spatial)
    {
        CheckForward(batch, channels, spatial, 7);
        CheckBackward(batch, channels, spatial, 8);
    }

    [Fact]
    public void Forward_may_write_in_place()
    {
        var x = TestRandom.Uniform(2 * 3 * 10, 1);
        var bias = TestRandom.Uniform(3, 2);
        var expected = new float[x.Length];
        Bias.Forward(x, bias, expected, 2, 3, 10);
        Bias.Forward(x, bias, x, 2, 3, 10);
        KernelSweep.Exact(expected, x, "in place");
    }

    /// <summary>
    /// Bias stays on TensorPrimitives (Add, Sum: their own Vector128/256/512 paths). NaN and ±0: y = x + b exactly as IEEE
    /// adds (−0 + −0 = −0, −0 + +0 = +0, NaN stays NaN); a NaN in dy makes its channel's gradient NaN and no other.
    /// </summary>
    [Theory]
    [InlineData(3, 5, 1)]
    [InlineData(3, 40, 1)]
    [InlineData(2, 5, 17)]
    [InlineData(2, 3, 64)]
    public void Special_values(int batch, int channels, int spatial)
    {
        int total = batch * channels * spatial;
        var x = ElementwiseSweep.WithSpecials(total, total);
        var bias = ElementwiseSweep.WithSpecials(channels, channels + 1);
        var y = KernelSweep.Poisoned(total);
        Bias.Forward(x, bias, y, batch, channels, spatial);
        var expected = new float[total];
        for (int i = 0; i < total; i++) expected[i] = x[i] + bias[i / spatial % channels];
        KernelSweep.Exact(expected, y, $"Bias.Forward specials ({batch}, {channels}, {spatial})");

        float[] signed = [-0f, 0f];
        var minusZero = new float[2 * spatial];
        Bias.Forward(new float[2 * spatial].Select(_ => -0f).ToArray(), signed, minusZero, 1, 2, spatial);
        for (int s = 0; s < spatial; s++)
        {
            Assert.Equal(int.MinValue, BitConverter.SingleToInt32Bits(minusZero[s]));     // −0 + −0
            Assert.Equal(0, BitConverter.SingleToInt32Bits(minusZero[spatial + s]));      // −0 + +0
        }

        var dy = TestRandom.Uniform(total, 3);
        dy[(1 * channels + 2) * spatial + spatial / 2] = float.NaN; // batch 1, channel 2
        var dBias = new float[channels];
        Bias.Backward(dy, dBias, batch, channels, spatial);
        for (int c = 0; c < channels; c++)
            Assert.True(float.IsNaN(dBias[c]) == (c == 2), $"channel {c}: {dBias[c]}");
    }
}
