using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>The few-row matrix-vector product of inference Dense layers against a double reference, every width.</summary>
public class GemvTests
{
    public static TheoryData<ConvVectorWidth> Widths() => ConvVectorWidths.All();

    [Theory]
    [MemberData(nameof(Widths))]
    public void Matches_a_double_reference_on_awkward_sizes_with_bias_and_relu(ConvVectorWidth width)
    {
        int seed = 0;
        foreach (int rows in new[] { 1, 2, 3, 4 })
        foreach (int k in new[] { 1, 3, 17, 64 })
        foreach (int n in new[] { 1, 3, 7, 8, 15, 17, 31, 33, 63, 65, 130 })
        foreach (bool withBias in new[] { false, true })
        foreach (bool relu in new[] { false, true })
        {
            seed++;
            var x = TestRandom.Uniform(rows * k, seed);
            var w = TestRandom.Uniform(k * n, seed + 1000);
            var bias = withBias ? TestRandom.Uniform(n, seed + 2000) : [];
            var y = new float[rows * n + 5];
            TestRandom.Poison(y);
            Gemv.Run(x, rows, k, w, n, bias, y, relu, width, threads: 1);
            for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, scale = 0;
                for (int i = 0; i < k; i++)
                {
                    sum += (double)x[r * k + i] * w[i * n + j];
                    scale += Math.Abs((double)x[r * k + i] * w[i * n + j]);
                }
                if (withBias) { sum += bias[j]; scale += Math.Abs(bias[j]); }
                if (relu) sum = Math.Max(sum, 0);
                float got = y[r * n + j];
                Assert.True(Math.Abs(got - sum) <= 1e-6 * (scale + 1),
                    $"{width} rows {rows} k {k} n {n} bias {withBias} relu {relu}: y[{r},{j}] = {got}, expected {sum}");
            }
            for (int t = rows * n; t < y.Length; t++) Assert.True(float.IsNaN(y[t]), $"{width}: wrote past the output at {t}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Splitting_the_columns_over_threads_gives_the_same_bits(ConvVectorWidth width)
    {
        const int rows = 3, k = 784, n = 130; // large enough to be shared
        var x = TestRandom.Uniform(rows * k, 1);
        var w = TestRandom.Uniform(k * n, 2);
        var bias = TestRandom.Uniform(n, 3);
        var one = new float[rows * n];
        var two = new float[rows * n];
        Gemv.Run(x, rows, k, w, n, bias, one, relu: true, width, threads: 1);
        Gemv.Run(x, rows, k, w, n, bias, two, relu: true, width, threads: 2);
        Assert.Equal(one, two);
    }

    [Fact]
    public void Spans_that_do_not_fit_are_refused_with_the_sizes()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemv.Run(new float[5], 1, 6, new float[12], 2, default, new float[2], false));
        Assert.Contains("rows 1, k 6, n 2", e.Message);
    }
}
