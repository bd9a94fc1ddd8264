using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;

namespace NativeConv.Tests.Kernels;

/// <summary>Widths, lengths and special values shared by the elementwise-kernel tests.</summary>
public static class ElementwiseSweep
{
    /// <summary>Every width this machine can run (forced one by one), Auto included.</summary>
    public static TheoryData<VectorWidth> Widths()
    {
        var data = new TheoryData<VectorWidth>();
        foreach (var width in new[] { VectorWidth.Auto, VectorWidth.Vector512, VectorWidth.Vector256, VectorWidth.Vector128, VectorWidth.Scalar })
            if (ElementwiseDriver.IsSupported(width)) data.Add(width);
        return data;
    }

    /// <summary>Every tail of every width (0..66 crosses 4, 8, 16, 32 and 64), a few odd lengths, and 70 001 (parallel chunks).</summary>
    public static int[] Lengths { get; } = [.. Enumerable.Range(0, 67), 127, 128, 129, 1000, 1031, 70_001];

    /// <summary>NaN (quiet, negative and with a payload), ±0, ±∞, the smallest subnormal, ±1.</summary>
    public static float[] Specials { get; } =
    [
        float.NaN, -float.NaN, BitConverter.Int32BitsToSingle(0x7FC0_1234), 0f, -0f, float.PositiveInfinity, float.NegativeInfinity,
        float.Epsilon, -float.Epsilon, 1f, -1f,
    ];

    /// <summary>
    /// Random values in [−1, 1) with the specials at every 3rd position, rotating (so every lane meets each of them), and
    /// NaN, −0, +0 as the last three (so the scalar tail of every width meets them too).
    /// </summary>
    public static float[] WithSpecials(int length, int seed)
    {
        var values = Support.TestRandom.Uniform(length, seed);
        for (int i = seed % 3; i < length; i += 3) values[i] = Specials[(i / 3 + seed) % Specials.Length];
        float[] last = [float.NaN, -0f, 0f];
        for (int j = 0; j < 3 && j < length; j++) values[length - 3 + j < 0 ? j : length - 3 + j] = last[j];
        return values;
    }
}
