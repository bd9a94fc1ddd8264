using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;
using NativeConv.Tests.Kernels;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Optim;

public class AdamKernelTests
{
    public static TheoryData<VectorWidth> Widths() => ElementwiseSweep.Widths();

    /// <summary>
    /// Every width the machine runs, forced, against the scalar recipe: bit-identical (the kernel's one source applies the same
    /// float operations in the same order at every width, no FMA). NaN, ±0, ±∞ and subnormals in g, m and v included: a NaN
    /// in g, m or v makes that element's results NaN, a ±0 gradient on zero moments leaves p unchanged.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_width_is_bitwise_the_scalar_recipe_special_values_included(VectorWidth width)
    {
        const float alpha = 0.003f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
        foreach (int length in ElementwiseSweep.Lengths)
        {
            var p = ElementwiseSweep.WithSpecials(length, length);
            var g = ElementwiseSweep.WithSpecials(length, length + 1);
            var m = ElementwiseSweep.WithSpecials(length, length + 2);
            var v = ElementwiseSweep.WithSpecials(length, length + 3);
            for (int i = 0; i < length; i++) v[i] = MathF.Abs(v[i]) * 0.01f;
            var (ep, em, ev) = (new float[length], new float[length], new float[length]);
            for (int i = 0; i < length; i++)
            {
                em[i] = b1 * m[i] + (1f - b1) * g[i];
                ev[i] = b2 * v[i] + (1f - b2) * (g[i] * g[i]);
                ep[i] = p[i] - alpha * em[i] / (MathF.Sqrt(ev[i]) + eps);
            }
            AdamUpdate.Update(p, g, m, v, alpha, b1, b2, eps, width);
            KernelSweep.Exact(em, m, $"Adam m, {width}, length {length}");
            KernelSweep.Exact(ev, v, $"Adam v, {width}, length {length}");
            KernelSweep.Exact(ep, p, $"Adam parameter, {width}, length {length}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Nan_and_signed_zero_gradients(VectorWidth width)
    {
        // 12 elements: lanes 0..3 in the vector body at 128 bits, 8..11 in a tail at 256; the same 4 values repeat.
        float[] g = [float.NaN, 0f, -0f, 1f, float.NaN, 0f, -0f, 1f, float.NaN, 0f, -0f, 1f];
        var p = Enumerable.Repeat(0.5f, 12).ToArray();
        var m = new float[12];
        var v = new float[12];
        AdamUpdate.Update(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-7f, width);
        for (int j = 0; j < 12; j += 4)
        {
            Assert.True(float.IsNaN(m[j]) && float.IsNaN(v[j]) && float.IsNaN(p[j]), "a NaN gradient poisons m, v and p");
            Assert.Equal(0, BitConverter.SingleToInt32Bits(m[j + 1]));
            Assert.Equal(0, BitConverter.SingleToInt32Bits(m[j + 2])); // 0.9·0 + 0.1·(−0) = +0 + −0 = +0
            Assert.Equal(0.5f, p[j + 1]);
            Assert.Equal(0.5f, p[j + 2]);
            Assert.True(p[j + 3] < 0.5f);
        }
    }

    [Fact]
    public void Matches_reference_for_every_length()
    {
        const float alpha = 0.003f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
        foreach (int length in KernelSweep.Lengths.Append(70_001)) // the last one runs in parallel chunks
        {
            var p = TestRandom.Uniform(length, length);
            var g = TestRandom.Uniform(length, length + 1);
            var m = TestRandom.Uniform(length, length + 2, -0.1f, 0.1f);
            var v = TestRandom.Uniform(length, length + 3, 0f, 0.01f);
            var (ep, em, ev) = (new float[length], new float[length], new float[length]);
            for (int i = 0; i < length; i++)
            {
                // Same float operations in the same order as the kernel: the results must be bit-identical.
                em[i] = b1 * m[i] + (1f - b1) * g[i];
                ev[i] = b2 * v[i] + (1f - b2) * (g[i] * g[i]);
                ep[i] = p[i] - alpha * em[i] / (MathF.Sqrt(ev[i]) + eps);
            }
            AdamUpdate.Update(p, g, m, v, alpha, b1, b2, eps);
            KernelSweep.Exact(em, m, $"Adam m, length {length}");
            KernelSweep.Exact(ev, v, $"Adam v, length {length}");
            KernelSweep.Exact(ep, p, $"Adam parameter, length {length}");
        }
    }

    [Fact]
    public void Two_steps_by_hand_through_the_backend()
    {
        // lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-7, p₀ = 1, m₀ = v₀ = 0; gradients 0.5 then −0.25. In double:
        // step 1: m = 0.1·0.5 = 0.05;  v = 0.001·0.25 = 0.00025;  α = 0.1·√(1−0.999)/(1−0.9) = √0.001 = 0.0316227766
        //         p = 1 − 0.0316227766·0.05/(√0.00025 + 1e-7) = 1 − 0.0316227766·0.05/0.0158114883 = 0.9000006325
        // step 2: m = 0.9·0.05 + 0.1·(−0.25) = 0.02;  v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225
        //         α = 0.1·√(1−0.999²)/(1−0.9²) = 0.1·√0.001999/0.19 = 0.0235316725
        //         p = 0.9000006325 − 0.0235316725·0.02/(0.0176705970 + 1e-7) = 0.8733670792
        var backend = Engine.DefaultBackend;
        using var p = Tensor.FromArray([1f], new Shape(1), backend);
        using var m = Tensor.Zeros(new Shape(1), backend);
        using var v = Tensor.Zeros(new Shape(1), backend);
        using var g1 = Tensor.FromArray([0.5f], new Shape(1), backend);
        using var g2 = Tensor.FromArray([-0.25f], new Shape(1), backend);

        backend.AdamUpdate(p, g1, m, v, new AdamStep(0.1f, 0.9f, 0.999f, 1e-7f, Step: 1));
        // Tolerances are float32's: 1 − β2 is 0.000999987 in float (relative error 1.3e-5), which v inherits.
        Assert.Equal(0.05, m.Item(), 1e-7);
        Assert.Equal(0.00025, v.Item(), 0.00025 * 3e-5);
        Assert.Equal(0.9000006325, p.Item(), 1e-6);

        backend.AdamUpdate(p, g2, m, v, new AdamStep(0.1f, 0.9f, 0.999f, 1e-7f, Step: 2));
        Assert.Equal(0.02, m.Item(), 1e-7);
        Assert.Equal(0.00031225, v.Item(), 0.00031225 * 3e-5);
        Assert.Equal(0.8733670792, p.Item(), 1e-6);
    }

    [Fact]
    public void Sgd_two_steps_through_the_backend()
    {
        // Same numbers as SgdKernelTests.Two_steps_by_hand: velocity −0.05 then −0.02; p 0.95 then 0.93.
        var backend = Engine.DefaultBackend;
        using var p = Tensor.FromArray([1f], new Shape(1), backend);
        using var velocity = Tensor.Zeros(new Shape(1), backend);
        using var g1 = Tensor.FromArray([0.5f], new Shape(1), backend);
        using var g2 = Tensor.FromArray([-0.25f], new Shape(1), backend);
        backend.SgdUpdate(p, g1, velocity, 0.1f, 0.9f);
        Assert.Equal(0.95, p.Item(), 1e-7);
        backend.SgdUpdate(p, g2, velocity, 0.1f, 0.9f);
        Assert.Equal(-0.02, velocity.Item(), 1e-7);
        Assert.Equal(0.93, p.Item(), 1e-7);
    }
}
