using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The elementwise driver and the kernels on it (ReLU, its mask, dropout), each against a plain scalar loop at every width
/// the machine runs, on every tail length, with NaN and ±0 in the inputs. Expected bits are exact: these kernels are
/// elementwise with no fused multiply-add, so every width must give the scalar reference's bits (any NaN equals any NaN).
/// </summary>
public unsafe class ElementwiseKernelTests
{
    public static TheoryData<VectorWidth> Widths() => ElementwiseSweep.Widths();

    /// <summary>c[i] += 1 for each element it is handed: counts how often the driver visits each index.</summary>
    private readonly struct CountKernel : IElementwiseKernel
    {
        public float* Counts { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec> =>
            TVec.Store(Counts + i, TVec.Load(Counts + i) + TVec.Broadcast(1f));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Driver_visits_every_index_exactly_once(VectorWidth width)
    {
        foreach (int length in ElementwiseSweep.Lengths)
        {
            // One guard float either side: a step past either end would show there.
            var counts = new float[length + 2];
            fixed (float* p = counts)
            {
                ElementwiseDriver.Run(length, new CountKernel { Counts = p + 1 }, width);
                ElementwiseDriver.RunSerial(length, new CountKernel { Counts = p + 1 }, width);
            }
            Assert.Equal(0f, counts[0]);
            Assert.Equal(0f, counts[^1]);
            for (int i = 1; i <= length; i++)
                if (counts[i] != 2f) Assert.Fail($"{width}, length {length}: index {i - 1} visited {counts[i]} times, expected 2.");
        }
    }

    [Fact]
    public void Driver_refuses_a_width_the_machine_does_not_accelerate()
    {
        Assert.Equal(ElementwiseDriver.BestWidth, ElementwiseDriver.Resolve(VectorWidth.Auto));
        foreach (var width in new[] { VectorWidth.Vector512, VectorWidth.Vector256, VectorWidth.Vector128 })
            if (!ElementwiseDriver.IsSupported(width))
                Assert.Throws<ArgumentException>(() => ElementwiseDriver.Resolve(width));
        Assert.NotEqual(VectorWidth.Auto, ElementwiseDriver.BestWidth);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Relu_forward_is_max_with_zero_NaN_kept_minus_zero_to_plus_zero(VectorWidth width)
    {
        foreach (int length in ElementwiseSweep.Lengths)
        {
            var x = ElementwiseSweep.WithSpecials(length, length);
            var expected = new float[length];
            for (int i = 0; i < length; i++)
                expected[i] = float.IsNaN(x[i]) ? x[i] : x[i] > 0f ? x[i] : 0f; // plain rule: NaN stays, −0 and negatives → +0
            var y = KernelSweep.Poisoned(length);
            Relu.Forward(x, y, width);
            KernelSweep.Exact(expected, y, $"Relu.Forward {width}, length {length}");

            // TensorPrimitives.Max(x, 0) is the documented semantics: same bits.
            var tp = new float[length];
            TensorPrimitives.Max(x, 0f, tp);
            KernelSweep.Exact(tp, y, $"Relu.Forward vs TensorPrimitives.Max, {width}, length {length}");

            // In place.
            Relu.Forward(x, x, width);
            KernelSweep.Exact(expected, x, $"Relu.Forward in place {width}, length {length}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Relu_forward_special_values(VectorWidth width)
    {
        // 20 elements: each width's main loop and its tails see the same values.
        float[] x = [float.NaN, -0f, 0f, -1f, 2f, float.NegativeInfinity, float.PositiveInfinity, -float.Epsilon, float.Epsilon, -float.NaN,
                     float.NaN, -0f, 0f, -1f, 2f, float.NegativeInfinity, float.PositiveInfinity, -float.Epsilon, float.Epsilon, -float.NaN];
        var y = new float[x.Length];
        Relu.Forward(x, y, width);
        for (int j = 0; j < 20; j += 10)
        {
            Assert.True(float.IsNaN(y[j]));
            Assert.Equal(0, BitConverter.SingleToInt32Bits(y[j + 1])); // −0 → +0
            Assert.Equal(0, BitConverter.SingleToInt32Bits(y[j + 2]));
            Assert.Equal(0, BitConverter.SingleToInt32Bits(y[j + 3]));
            Assert.Equal(2f, y[j + 4]);
            Assert.Equal(0, BitConverter.SingleToInt32Bits(y[j + 5]));
            Assert.Equal(float.PositiveInfinity, y[j + 6]);
            Assert.Equal(0, BitConverter.SingleToInt32Bits(y[j + 7]));
            Assert.Equal(float.Epsilon, y[j + 8]);
            Assert.True(float.IsNaN(y[j + 9]));
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Relu_backward_and_mask_keep_dy_only_where_y_is_positive(VectorWidth width)
    {
        foreach (int length in ElementwiseSweep.Lengths)
        {
            var y = ElementwiseSweep.WithSpecials(length, length + 1);
            var dy = ElementwiseSweep.WithSpecials(length, length + 2);
            var dx = TestRandom.Uniform(length, length + 3);
            var expectedAdd = new float[length];
            var expectedMask = new float[length];
            for (int i = 0; i < length; i++)
            {
                // y NaN, +0, −0 or negative: no gradient. The "0 +" of the overwrite turns a kept −0 into +0.
                float kept = y[i] > 0f ? dy[i] : 0f;
                expectedAdd[i] = dx[i] + kept;
                expectedMask[i] = 0f + kept;
            }

            Relu.Backward(y, dy, dx, width);
            KernelSweep.Exact(expectedAdd, dx, $"Relu.Backward {width}, length {length}");

            var masked = KernelSweep.Poisoned(length);
            Relu.AddMasked(y, dy, masked, accumulate: false, width);
            KernelSweep.Exact(expectedMask, masked, $"Relu.AddMasked overwrite {width}, length {length}");

            // dst may alias dy.
            var alias = (float[])dy.Clone();
            Relu.AddMasked(y, alias, alias, accumulate: false, width);
            KernelSweep.Exact(expectedMask, alias, $"Relu.AddMasked in place {width}, length {length}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Relu_mask_special_values(VectorWidth width)
    {
        float[] y = [float.NaN, 0f, -0f, -1f, 1f, 1f, 1f, float.PositiveInfinity, float.Epsilon, 1f, float.NaN, 0f, -0f, -1f, 1f, 1f, 1f];
        float[] dy = [5f, 5f, 5f, 5f, float.NaN, -0f, -3f, 7f, 9f, float.PositiveInfinity, 5f, 5f, 5f, 5f, float.NaN, -0f, -3f];
        var masked = KernelSweep.Poisoned(y.Length);
        Relu.AddMasked(y, dy, masked, accumulate: false, width);
        for (int j = 0; j < 17; j += 10)
        {
            Assert.Equal(0, BitConverter.SingleToInt32Bits(masked[j]));     // y NaN: no gradient
            Assert.Equal(0, BitConverter.SingleToInt32Bits(masked[j + 1])); // y +0
            Assert.Equal(0, BitConverter.SingleToInt32Bits(masked[j + 2])); // y −0
            Assert.Equal(0, BitConverter.SingleToInt32Bits(masked[j + 3])); // y < 0
            Assert.True(float.IsNaN(masked[j + 4]));                         // a NaN gradient passes where y > 0
            Assert.Equal(0, BitConverter.SingleToInt32Bits(masked[j + 5])); // 0 + (−0) = +0
            Assert.Equal(-3f, masked[j + 6]);
        }
        Assert.Equal(7f, masked[7]);
        Assert.Equal(9f, masked[8]);
        Assert.Equal(float.PositiveInfinity, masked[9]);
    }

    private static bool ReferenceDrops(ulong seed, long i, float rate)
    {
        static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
        return (Mix(Mix(seed) + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL) >> 40) / 16777216.0 < rate;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Dropout_forward_and_backward_match_reference(VectorWidth width)
    {
        const float rate = 0.3f;
        float scale = 1f / (1f - rate);
        foreach (int length in ElementwiseSweep.Lengths)
        {
            var x = ElementwiseSweep.WithSpecials(length, length);
            var y = KernelSweep.Poisoned(length);
            var mask = KernelSweep.Poisoned(length);
            Dropout.Forward(x, y, mask, rate, seed: 42, width);
            var expectedMask = new float[length];
            var expectedY = new float[length];
            for (int i = 0; i < length; i++)
            {
                expectedMask[i] = ReferenceDrops(42, i, rate) ? 0f : scale;
                expectedY[i] = x[i] * expectedMask[i]; // NaN and ±∞ dropped give NaN (x · 0), −0 kept stays −0
            }
            KernelSweep.Exact(expectedMask, mask, $"Dropout mask {width}, length {length}");
            KernelSweep.Exact(expectedY, y, $"Dropout.Forward {width}, length {length}");

            var dy = ElementwiseSweep.WithSpecials(length, length + 1);
            var dx = TestRandom.Uniform(length, length + 2);
            var expectedDx = new float[length];
            for (int i = 0; i < length; i++) expectedDx[i] = dx[i] + dy[i] * mask[i];
            Dropout.Backward(dy, mask, dx, width);
            KernelSweep.Exact(expectedDx, dx, $"Dropout.Backward {width}, length {length}");

            // y may alias x.
            Dropout.Forward(x, x, mask, rate, seed: 42, width);
            KernelSweep.Exact(expectedY, x, $"Dropout.Forward in place {width}, length {length}");
        }
    }
}
