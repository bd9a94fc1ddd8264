using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The few-row matrix-vector product of inference Dense layers, on weights packed in panels, against a double reference,
/// every width and panel width.
/// </summary>
public class GemvTests
{
    public static TheoryData<VectorWidth> Widths() => VectorWidths.All();

    /// <summary>w (k, n) → panels of <paramref name="panelWidth"/> columns, k-major inside, the last zero-padded.</summary>
    internal static float[] Pack(float[] w, int k, int n, int panelWidth)
    {
        int panels = (n + panelWidth - 1) / panelWidth;
        var packed = new float[panels * k * panelWidth];
        for (int p = 0; p < panels; p++)
        for (int i = 0; i < k; i++)
        for (int c = 0; c < panelWidth && p * panelWidth + c < n; c++)
            packed[(p * k + i) * panelWidth + c] = w[i * n + p * panelWidth + c];
        return packed;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Matches_a_double_reference_on_awkward_sizes_with_bias_and_relu(VectorWidth width)
    {
        int seed = 0;
        // 16 and 32: whole panels of every width's vectors (the AVX2 and AVX-512 GEMM panels); a scalar run also takes 3.
        int[] panelWidths = width == VectorWidth.Scalar ? [3, 16, 32] : [16, 32];
        foreach (int panelWidth in panelWidths)
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
            Gemv.Run(x, rows, k, Pack(w, k, n, panelWidth), panelWidth, n, bias, y, relu, width, threads: 1);
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
                    $"{width} panels {panelWidth} rows {rows} k {k} n {n} bias {withBias} relu {relu}: y[{r},{j}] = {got}, expected {sum}");
            }
            for (int t = rows * n; t < y.Length; t++) Assert.True(float.IsNaN(y[t]), $"{width}: wrote past the output at {t}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Splitting_the_columns_over_threads_gives_the_same_bits(VectorWidth width)
    {
        const int rows = 3, k = 784, n = 130; // large enough to be shared
        var x = TestRandom.Uniform(rows * k, 1);
        var packed = Pack(TestRandom.Uniform(k * n, 2), k, n, 16);
        var bias = TestRandom.Uniform(n, 3);
        var one = new float[rows * n];
        var two = new float[rows * n];
        Gemv.Run(x, rows, k, packed, 16, n, bias, one, relu: true, width, threads: 1);
        Gemv.Run(x, rows, k, packed, 16, n, bias, two, relu: true, width, threads: 2);
        Assert.Equal(one, two);
    }

    [Fact]
    public void Takes_the_gemms_own_packing_on_this_machine()
    {
        const int rows = 2, k = 300, n = 77;
        var x = TestRandom.Uniform(rows * k, 4);
        var w = TestRandom.Uniform(k * n, 5);
        var packed = new float[Sgemm.PackedBLength(k, n)];
        Sgemm.PackB(w, k, n, n, packed);
        var y = new float[rows * n];
        Gemv.Run(x, rows, k, packed, Sgemm.PackedPanelWidth, n, default, y, relu: false);
        var expected = new float[rows * n];
        Sgemm.Run(false, false, rows, n, k, 1f, x, k, w, n, 0f, expected, n);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-4f, $"y[{i}] = {y[i]}, the GEMM gives {expected[i]}");
    }

    [Fact]
    public void Spans_that_do_not_fit_are_refused_with_the_sizes()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemv.Run(new float[5], 1, 6, new float[96], 16, 2, default, new float[2], false));
        Assert.Contains("rows 1, k 6, n 2", e.Message);
        // Panels that do not hold whole vectors of the width asked for (only a machine with vectors can be asked).
        var vectorWidth = VectorWidths.Supported.FirstOrDefault(w => w != VectorWidth.Scalar);
        if (vectorWidth == default) return;
        e = Assert.Throws<ArgumentException>(() => Gemv.Run(new float[6], 1, 6, new float[60], 10, 2, default, new float[2], false, vectorWidth));
        Assert.Contains("panels of a multiple of", e.Message);
    }
}
