using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class GlobalAvgPoolKernelTests
{
    private static void Check(int planes, int spatial, int seed)
    {
        string context = $"GlobalAvgPool {planes} planes of {spatial}";
        var x = TestRandom.Uniform(planes * spatial, seed);
        var y = KernelSweep.Poisoned(planes);
        GlobalAvgPool.Forward(x, y, planes, spatial);
        var expected = new double[planes];
        for (int p = 0; p < planes; p++)
        {
            double sum = 0;
            for (int s = 0; s < spatial; s++) sum += x[p * spatial + s];
            expected[p] = sum / spatial;
        }
        KernelSweep.Close(expected, y, 1e-5, 1e-6, context + " forward");

        var dy = TestRandom.Uniform(planes, seed + 1);
        var dx = TestRandom.Uniform(x.Length, seed + 2); // accumulates
        var expectedDx = new float[dx.Length];
        for (int i = 0; i < dx.Length; i++) expectedDx[i] = dx[i] + dy[i / spatial] / spatial;
        GlobalAvgPool.Backward(dy, dx, planes, spatial);
        KernelSweep.Exact(expectedDx, dx, context + " backward");
    }

    [Fact]
    public void Matches_reference_for_every_plane_size()
    {
        foreach (int s in KernelSweep.Lengths)
            if (s > 0) Check(3, s, s);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(17, 63)]       // C = 17, 7×9 planes
    [InlineData(2 * 3, 1)]     // 1×1 planes: the mean is the value
    [InlineData(0, 16)]        // no planes
    [InlineData(128 * 64, 64)] // (128, 64, 8, 8): parallel over planes
    public void Awkward_and_large_shapes_match_reference(int planes, int spatial) => Check(planes, spatial, 11);

    /// <summary>
    /// GAP stays on TensorPrimitives (Sum, Add). NaN: a NaN (or +∞ with −∞) in a plane makes that plane's mean NaN and no
    /// other; the backward spreads dy/S exactly, NaN included. ±0: a plane of −0 has mean +0 (the sum starts at +0).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(17)]
    [InlineData(64)]
    public void Special_values(int spatial)
    {
        const int planes = 4;
        var x = TestRandom.Uniform(planes * spatial, spatial);
        x[1 * spatial + spatial / 2] = float.NaN;
        for (int s = 0; s < spatial; s++) x[2 * spatial + s] = -0f;
        var y = new float[planes];
        GlobalAvgPool.Forward(x, y, planes, spatial);
        Assert.False(float.IsNaN(y[0]));
        Assert.True(float.IsNaN(y[1]));
        Assert.Equal(0, BitConverter.SingleToInt32Bits(y[2]));
        Assert.False(float.IsNaN(y[3]));

        float[] dy = [float.NaN, -0f, 0f, 1f];
        var dx = new float[planes * spatial];
        for (int i = 0; i < dx.Length; i++) dx[i] = -0f;
        GlobalAvgPool.Backward(dy, dx, planes, spatial);
        for (int s = 0; s < spatial; s++)
        {
            Assert.True(float.IsNaN(dx[s]));
            Assert.Equal(int.MinValue, BitConverter.SingleToInt32Bits(dx[spatial + s]));  // −0 + (−0/S) = −0
            Assert.Equal(0, BitConverter.SingleToInt32Bits(dx[2 * spatial + s]));         // −0 + (+0/S) = +0
            Assert.Equal(1f / spatial, dx[3 * spatial + s]);
        }
    }
}
