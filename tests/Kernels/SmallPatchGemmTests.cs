using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>The unpacked product of first layers' short patches against a double reference, every width.</summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // one test sets Engine.Threads
public class SmallPatchGemmTests
{
    public static TheoryData<VectorWidth> Widths() => VectorWidths.All();

    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void Matches_a_double_reference_on_awkward_sizes(VectorWidth width)
    {
        int seed = 0;
        foreach (int oc in new[] { 1, 3, 4, 5, 6, 7, 8, 10, 11, 16 }) // the 6-row, 4-row and single-row blocks and their mixes
        foreach (int k in new[] { 1, 9, 27, 32 })
        foreach (int n in new[] { 1, 7, 8, 17, 33, 100 })
        {
            seed++;
            int ldc = n + 3, ldy = n + 5;
            var w = TestRandom.Uniform(oc * k, seed);
            var col = TestRandom.Uniform(k * ldc, seed + 500);
            var y = new float[oc * ldy];
            TestRandom.Poison(y);
            fixed (float* pw = w, pc = col, py = y)
                SmallPatchGemm.Run(pw, oc, k, pc, ldc, n, py, ldy, width);
            for (int o = 0; o < oc; o++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0, scale = 0;
                    for (int kk = 0; kk < k; kk++)
                    {
                        sum += (double)w[o * k + kk] * col[kk * ldc + j];
                        scale += Math.Abs((double)w[o * k + kk] * col[kk * ldc + j]);
                    }
                    Assert.True(Math.Abs(y[o * ldy + j] - sum) <= 1e-6 * (scale + 1),
                        $"{width} oc {oc} k {k} n {n}: y[{o},{j}] = {y[o * ldy + j]}, expected {sum}");
                }
                for (int j = n; j < ldy; j++) Assert.True(float.IsNaN(y[o * ldy + j]), $"{width}: wrote past row {o}'s {n} columns");
            }
        }
    }

    [Fact]
    public unsafe void Sharing_the_columns_between_threads_gives_the_same_bits()
    {
        const int oc = 16, k = 9, n = 784 * 8;
        var w = TestRandom.Uniform(oc * k, 1);
        var col = TestRandom.Uniform(k * n, 2);
        var one = new float[oc * n];
        var two = new float[oc * n];
        int saved = Engine.Threads;
        try
        {
            fixed (float* pw = w, pc = col, p1 = one, p2 = two)
            {
                Engine.Threads = 1;
                SmallPatchGemm.Run(pw, oc, k, pc, n, n, p1, n);
                Engine.Threads = 2;
                SmallPatchGemm.Run(pw, oc, k, pc, n, n, p2, n);
            }
        }
        finally
        {
            Engine.Threads = saved;
        }
        Assert.Equal(one, two);
    }
}
