using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class SgdKernelTests
{
    public static TheoryData<VectorWidth> Widths() => ElementwiseSweep.Widths();

    /// <summary>Every width, forced, against the scalar recipe: bit-identical, NaN, ±0, ±∞ and subnormals included.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_width_is_bitwise_the_scalar_recipe_special_values_included(VectorWidth width)
    {
        const float lr = 0.05f, momentum = 0.9f;
        foreach (int length in ElementwiseSweep.Lengths)
        {
            var p = ElementwiseSweep.WithSpecials(length, length);
            var g = ElementwiseSweep.WithSpecials(length, length + 1);
            var velocity = ElementwiseSweep.WithSpecials(length, length + 2);
            var (expectedP, expectedV) = (new float[length], new float[length]);
            for (int i = 0; i < length; i++)
            {
                expectedV[i] = momentum * velocity[i] - lr * g[i];
                expectedP[i] = p[i] + expectedV[i];
            }
            SgdUpdate.Update(p, g, velocity, lr, momentum, width);
            KernelSweep.Exact(expectedV, velocity, $"Sgd velocity, {width}, length {length}");
            KernelSweep.Exact(expectedP, p, $"Sgd parameter, {width}, length {length}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Nan_and_signed_zero_gradients(VectorWidth width)
    {
        float[] g = [float.NaN, 0f, -0f, 1f, float.NaN, 0f, -0f, 1f, float.NaN, 0f, -0f, 1f];
        var p = Enumerable.Repeat(-0f, 12).ToArray();
        var velocity = Enumerable.Repeat(-0f, 12).ToArray();
        SgdUpdate.Update(p, g, velocity, 0.1f, 0.9f, width);
        for (int j = 0; j < 12; j += 4)
        {
            Assert.True(float.IsNaN(velocity[j]) && float.IsNaN(p[j]), "a NaN gradient poisons velocity and p");
            // g = +0: velocity = 0.9·(−0) − 0.1·(+0) = −0 − +0 = −0, and p = −0 + −0 = −0.
            Assert.Equal(int.MinValue, BitConverter.SingleToInt32Bits(velocity[j + 1]));
            Assert.Equal(int.MinValue, BitConverter.SingleToInt32Bits(p[j + 1]));
            // g = −0: velocity = −0 − (−0) = +0, and p = −0 + +0 = +0.
            Assert.Equal(0, BitConverter.SingleToInt32Bits(velocity[j + 2]));
            Assert.Equal(0, BitConverter.SingleToInt32Bits(p[j + 2]));
            Assert.Equal(-0.1f, velocity[j + 3]);
        }
    }

    [Fact]
    public void Matches_reference_for_every_length()
    {
        const float lr = 0.05f, momentum = 0.9f;
        foreach (int length in KernelSweep.Lengths.Append(70_001)) // the last one runs in parallel chunks
        {
            var p = TestRandom.Uniform(length, length);
            var g = TestRandom.Uniform(length, length + 1);
            var velocity = TestRandom.Uniform(length, length + 2, -0.1f, 0.1f);
            var expectedP = new float[length];
            var expectedV = new float[length];
            for (int i = 0; i < length; i++)
            {
                // Same float operations in the same order as the kernel: the results must be bit-identical.
                expectedV[i] = momentum * velocity[i] - lr * g[i];
                expectedP[i] = p[i] + expectedV[i];
            }
            SgdUpdate.Update(p, g, velocity, lr, momentum);
            KernelSweep.Exact(expectedV, velocity, $"Sgd velocity, length {length}");
            KernelSweep.Exact(expectedP, p, $"Sgd parameter, length {length}");
        }
    }

    [Fact]
    public void Two_steps_by_hand()
    {
        // lr = 0.1, μ = 0.9, p₀ = 1, velocity₀ = 0; gradients 0.5 then −0.25.
        //   step 1: velocity = 0.9·0 − 0.1·0.5 = −0.05;              p = 1 − 0.05 = 0.95
        //   step 2: velocity = 0.9·(−0.05) − 0.1·(−0.25) = −0.02;    p = 0.95 − 0.02 = 0.93
        float[] p = [1f], velocity = [0f];
        SgdUpdate.Update(p, [0.5f], velocity, 0.1f, 0.9f);
        Assert.Equal(-0.05f, velocity[0], 1e-7f);
        Assert.Equal(0.95f, p[0], 1e-7f);
        SgdUpdate.Update(p, [-0.25f], velocity, 0.1f, 0.9f);
        Assert.Equal(-0.02f, velocity[0], 1e-7f);
        Assert.Equal(0.93f, p[0], 1e-7f);
    }
}
