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
}
