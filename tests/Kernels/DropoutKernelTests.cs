using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class DropoutKernelTests
{
    // An independent transcription of the documented recipe (SplitMix64 finaliser on a Weyl counter): the GPU port must match it.
    private static ulong ReferenceMix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static bool ReferenceDrops(ulong seed, long i, float rate)
    {
        ulong bits = ReferenceMix(ReferenceMix(seed) + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL) >> 40;
        return bits / 16777216.0 < rate;
    }

    [Fact]
    public void Mix_is_the_standard_SplitMix64_finaliser()
    {
        // SplitMix64 seeded with 0 yields Mix(0x9E3779B97F4A7C15) = 0xE220A8397B1DCDAF first (the published reference output).
        Assert.Equal(0xE220A8397B1DCDAFUL, CounterRng.Mix(0x9E3779B97F4A7C15UL));
        Assert.Equal(0x6E789E6AA1B965F4UL, CounterRng.Mix(unchecked(2 * 0x9E3779B97F4A7C15UL)));
    }

    [Fact]
    public void Uniform_is_in_unit_interval_and_exact()
    {
        ulong key = CounterRng.Key(7);
        for (int i = 0; i < 10_000; i++)
        {
            float u = CounterRng.Uniform(key, i);
            Assert.InRange(u, 0f, 0.99999994f);
            Assert.Equal((double)CounterRng.Bits24(key, i) / 16777216.0, u);
        }
    }

    [Fact]
    public void Matches_reference_for_every_length()
    {
        const float rate = 0.4f;
        float scale = 1f / (1f - rate);
        foreach (int length in KernelSweep.Lengths)
        {
            var x = TestRandom.Uniform(length, length);
            var y = KernelSweep.Poisoned(length);
            var mask = KernelSweep.Poisoned(length);
            Dropout.Forward(x, y, mask, rate, seed: 99);
            for (int i = 0; i < length; i++)
            {
                float expectedMask = ReferenceDrops(99, i, rate) ? 0f : scale;
                Assert.Equal(expectedMask, mask[i]);
                Assert.Equal(x[i] * expectedMask, y[i]);
            }

            var dy = TestRandom.Uniform(length, length + 1);
            var dx = TestRandom.Uniform(length, length + 2);
            var expectedDx = new float[length];
            for (int i = 0; i < length; i++) expectedDx[i] = dx[i] + dy[i] * mask[i];
            Dropout.Backward(dy, mask, dx);
            KernelSweep.Close(expectedDx, dx, 1e-6, 1e-7, $"Dropout.Backward length {length}");
        }
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.25f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void Kept_fraction_is_binomial_and_kept_values_are_scaled_exactly(float rate)
    {
        const int length = 100_000;
        var x = TestRandom.Uniform(length, 3);
        var y = KernelSweep.Poisoned(length);
        var mask = KernelSweep.Poisoned(length);
        Dropout.Forward(x, y, mask, rate, seed: 2024);
        float scale = 1f / (1f - rate);
        int kept = 0;
        for (int i = 0; i < length; i++)
        {
            if (mask[i] == 0f) { Assert.Equal(0f, y[i]); continue; }
            Assert.Equal(scale, mask[i]);
            Assert.Equal(x[i] * scale, y[i]);
            kept++;
        }
        // Binomial(n, 1 − rate): 5 standard deviations (a false alarm ~ 1 in 3.5 million).
        double p = 1 - rate, sd = Math.Sqrt(length * p * (1 - p));
        Assert.InRange(kept, length * p - 5 * sd, length * p + 5 * sd);
    }

    [Fact]
    public void Rate_zero_keeps_everything()
    {
        var x = TestRandom.Uniform(100, 4);
        var y = KernelSweep.Poisoned(100);
        var mask = KernelSweep.Poisoned(100);
        Dropout.Forward(x, y, mask, 0f, 5);
        KernelSweep.Exact(x, y, "rate 0");
    }
}
