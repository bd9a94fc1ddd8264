namespace NativeConv.Tests.Support;

/// <summary>Comparing logits of the inference path with the training forward's.</summary>
public static class LogitTolerance
{
    /// <summary>The largest |a[i] − b[i]|.</summary>
    public static double MaxDifference(float[] a, float[] b) => a.Zip(b, (p, q) => (double)Math.Abs(p - q)).Max();

    /// <summary>
    /// <paramref name="actual"/> within rounding of <paramref name="expected"/>: |Δ| ≤ 1e-5 · (1 + the largest |logit|)
    /// (the inference plan may run a layer with another algorithm, or Dense as a matrix-vector product).
    /// </summary>
    public static void WithinRounding(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = MaxDifference(expected, actual);
        Assert.True(diff <= 1e-5 * (1 + expected.Max(v => Math.Abs(v))), $"{what}: max |Δ| {diff:E2}");
    }
}
