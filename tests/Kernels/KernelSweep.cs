namespace NativeConv.Tests.Kernels;

/// <summary>Sizes and comparisons shared by the kernel-vs-reference tests.</summary>
public static class KernelSweep
{
    /// <summary>0..256 (every Vector512/Vector256 width and every tail) plus a few odd larger lengths.</summary>
    public static int[] Lengths { get; } = [.. Enumerable.Range(0, 257), 257, 1000, 1031];

    /// <summary>Bitwise equality, except that any NaN equals any NaN (payloads may differ between vector and scalar code).</summary>
    public static bool SameBits(float a, float b) =>
        (float.IsNaN(a) && float.IsNaN(b)) || BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    public static void Exact(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string context)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!SameBits(expected[i], actual[i]))
                Assert.Fail($"{context}: element {i} is {actual[i]:R}, expected {expected[i]:R}.");
    }

    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol, double atol, string context)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(actual[i] - expected[i]) <= atol + rtol * Math.Abs(expected[i])))
                Assert.Fail($"{context}: element {i} is {actual[i]:R}, expected {expected[i]:R}.");
    }

    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol, string context)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        Close(e, actual, rtol, atol, context);
    }

    public static float[] Poisoned(int length)
    {
        var values = new float[length];
        Support.TestRandom.Poison(values);
        return values;
    }
}
