using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The inference forward (<see cref="Conv2DForwardKernel.RunInference"/>): pre-transformed Winograd weights and a max-pool
/// fused into the epilogue give bitwise what the training forward, a separate ReLU and a separate max-pool give.
/// </summary>
public class ConvInferenceKernelTests
{
    public static TheoryData<int, int, int, int, int, int, Conv2DAlgorithm> Cases()
    {
        var data = new TheoryData<int, int, int, int, int, int, Conv2DAlgorithm>();
        // n, c, oc, size, kernel, pool (0: none; 2: 2×2/2; 3: 3×3/2), algorithm
        foreach (var algorithm in new[] { Conv2DAlgorithm.Im2Col, Conv2DAlgorithm.Winograd })
        {
            data.Add(1, 3, 8, 8, 3, 2, algorithm);
            data.Add(1, 32, 32, 16, 3, 2, algorithm);
            data.Add(2, 5, 7, 10, 3, 2, algorithm);
            data.Add(3, 4, 6, 12, 3, 0, algorithm);
            data.Add(1, 6, 9, 11, 3, 3, algorithm);   // odd output: Winograd cannot fuse, so the kernel refuses (checked below)
            data.Add(5, 2, 3, 8, 5, 2, algorithm);   // 5×5: im2col whatever the setting
            data.Add(2, 8, 4, 9, 1, 2, algorithm);   // 1×1 pointwise, odd size: the pool floors
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_training_forward_then_relu_then_pool_bitwise(int n, int c, int oc, int size, int kernel, int pool,
        Conv2DAlgorithm algorithm)
    {
        var g = ConvGeometry.Create(new Shape(n, c, size, size), new Shape(oc, c, kernel, kernel), 1, 1, Padding.Same);
        var plan = ConvPlan.Create(g, algorithm);
        var x = TestRandom.Uniform(n * c * size * size, 11);
        var w = TestRandom.Uniform(oc * c * kernel * kernel, 12);
        var bias = TestRandom.Uniform(oc, 13);
        // Prepared as an inference step prepares them: W packed for the GEMM, U transformed and packed when Winograd may run.
        var prepared = ConvInferenceWeights.Prepare(w, g, plan.Forward);
        foreach (bool relu in new[] { false, true })
        {
            var full = new float[n * oc * g.OutputPixels];
            Conv2DForwardKernel.Run(x, w, bias, full, plan, relu);
            if (pool == 0)
            {
                var y = new float[full.Length];
                Conv2DForwardKernel.RunInference(x, prepared, bias, y, plan, relu, pool: null);
                Assert.Equal(full, y);
                continue;
            }
            var stride = 2;
            var pooled = PoolGeometry.Create(g.OutputShape, pool, pool, stride, stride);
            var expected = new float[pooled.OutputShape.Size];
            MaxPoolKernel.Forward(full, expected, pooled);
            var plane = PoolGeometry.Create(new Shape(1, 1, g.OH, g.OW), pool, pool, stride, stride);
            var actual = new float[expected.Length + 3];
            TestRandom.Poison(actual);
            bool winogradCannotFuse = plan.Forward == ConvMethod.Winograd && (pool != 2 || (g.OH & 1) != 0);
            if (winogradCannotFuse)
            {
                Assert.Throws<ArgumentException>(() => Conv2DForwardKernel.RunInference(x, prepared, bias, actual, plan, relu, plane));
                continue;
            }
            Conv2DForwardKernel.RunInference(x, prepared, bias, actual, plan, relu, plane);
            Assert.Equal(expected, actual.AsSpan(0, expected.Length).ToArray());
            Assert.True(float.IsNaN(actual[^1]), "wrote past the pooled output");
        }
    }

    public static TheoryData<int, int, int, int, int, bool, int> BandCases()
    {
        // c, oc, size, kernel, stride, same padding (else valid), pool (0: none; 2: 2×2/2; 3: 3×3/2, overlapping windows)
        return new TheoryData<int, int, int, int, int, bool, int>
        {
            { 3, 8, 32, 3, 1, true, 0 },    // cifar-small's first layer: four bands
            { 8, 8, 32, 3, 1, true, 2 },    // its second, pooled: bands of pooled rows
            { 1, 16, 28, 5, 1, true, 2 },   // fmnist-cnn-k5's first (the short-patch product)
            { 16, 32, 14, 5, 1, true, 2 },  // its second (the packed GEMM), 7 pooled rows in two bands of 4 and 3
            { 4, 6, 13, 3, 2, true, 0 },    // stride 2, odd size
            { 5, 7, 11, 3, 1, false, 3 },   // valid padding, overlapping pool windows: bands recompute shared rows
            { 2, 3, 9, 1, 1, true, 0 },     // 1×1
            { 3, 5, 41, 3, 1, true, 2 },    // odd rows: the pool drops the last
        };
    }

    [Theory]
    [MemberData(nameof(BandCases))]
    public void Row_bands_of_one_image_give_the_whole_images_bits(int c, int oc, int size, int kernel, int stride, bool same, int pool)
    {
        var g = ConvGeometry.Create(new Shape(1, c, size, size), new Shape(oc, c, kernel, kernel), stride, stride,
            same ? Padding.Same : Padding.Valid);
        var banded = ConvPlan.Create(g, Conv2DAlgorithm.Im2Col, threads: 2, forwardOnly: true);
        var whole = ConvPlan.Create(g, Conv2DAlgorithm.Im2Col, threads: 2);
        Assert.True(banded.ForwardRowBands > 1, $"{g}: no bands to test");
        Assert.Equal(0, whole.ForwardRowBands);
        var x = TestRandom.Uniform(c * size * size, 31);
        var prepared = ConvInferenceWeights.Prepare(TestRandom.Uniform(oc * c * kernel * kernel, 32), g, ConvMethod.Im2Col);
        var bias = TestRandom.Uniform(oc, 33);
        PoolGeometry? plane = pool == 0 ? null : PoolGeometry.Create(new Shape(1, 1, g.OH, g.OW), pool, pool, 2, 2);
        int outputs = oc * (plane is { } p ? p.OH * p.OW : g.OutputPixels);
        foreach (bool relu in new[] { false, true })
        {
            var expected = new float[outputs];
            Conv2DForwardKernel.RunInference(x, prepared, bias, expected, whole, relu, plane);
            var actual = new float[outputs + 3];
            TestRandom.Poison(actual);
            Conv2DForwardKernel.RunInference(x, prepared, bias, actual, banded, relu, plane);
            Assert.Equal(expected, actual.AsSpan(0, outputs).ToArray());
            Assert.True(float.IsNaN(actual[^1]), "wrote past the output");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Winograd_with_a_fused_pool_matches_at_every_width(VectorWidth width)
    {
        var p = new WinogradProblem(2, 5, 14, 14, 6, 1, 1, 14, 14);
        var x = TestRandom.Uniform(p.N * p.C * p.H * p.W, 21);
        var w = TestRandom.Uniform(p.OC * p.C * 9, 22);
        var bias = TestRandom.Uniform(p.OC, 23);
        var u = new float[16 * p.OC * p.C];
        Winograd3x3.TransformWeights(w, p.OC, p.C, flipped: false, u);
        var full = new float[p.N * p.OC * p.OH * p.OW];
        Winograd3x3.Run(x, w, bias, full, p, flipWeights: false, accumulate: false, width: width, relu: true);
        var expected = new float[full.Length / 4];
        MaxPoolKernel.Forward(full, expected, PoolGeometry.Create(new Shape(p.N, p.OC, p.OH, p.OW), 2, 2, 2, 2));
        var actual = new float[expected.Length];
        Winograd3x3.RunTransformed(x, u, bias, actual, p, imagesPerGroup: 1, relu: true, pool: true, width);
        Assert.Equal(expected, actual);
    }

    public static TheoryData<VectorWidth> Widths() => VectorWidths.All();

    [Fact]
    public void Weights_not_prepared_for_winograd_are_refused_by_a_winograd_plan()
    {
        var g = ConvGeometry.Create(new Shape(1, 4, 8, 8), new Shape(4, 4, 3, 3), 1, 1, Padding.Same);
        var prepared = ConvInferenceWeights.Prepare(new float[144], g, ConvMethod.Im2Col);
        var e = Assert.Throws<ArgumentException>(() => Conv2DForwardKernel.RunInference(new float[256], prepared, default,
            new float[256], ConvPlan.Create(g, Conv2DAlgorithm.Winograd), relu: false, pool: null));
        Assert.Contains("not prepared", e.Message);
    }

    [Fact]
    public void A_pooled_winograd_output_must_be_even()
    {
        var p = new WinogradProblem(1, 2, 7, 7, 2, 1, 1, 7, 7);
        var e = Assert.Throws<ArgumentException>(() =>
            Winograd3x3.RunTransformed(new float[98], new float[64], default, new float[100], p, 1, relu: false, pool: true));
        Assert.Contains("even output", e.Message);
    }
}
