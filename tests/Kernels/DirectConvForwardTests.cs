using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The direct (im2col-free) forward, <see cref="DirectConvForward"/>: against a plain reference that sums each
/// output's patch in order with fused multiply-adds (bitwise where the hardware fuses, as the kernel then does at every
/// width), on awkward shapes, with bias, ReLU and fused pools; its row bands against the whole image; the Auto rule.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the band test sets the thread count
public class DirectConvForwardTests
{
    public static TheoryData<VectorWidth> Widths() => VectorWidths.All();

    private static readonly bool HardwareFusesMultiplyAdd = Fma.IsSupported || AdvSimd.IsSupported;

    /// <summary>Stride-1 shapes: the reference set's (odd sizes, valid/same/explicit and one-sided padding, non-square
    /// kernels) and the study layers' channel counts (output channels 1–9 and 32: every mix of 6-, 4- and 1-row blocks).</summary>
    private static IEnumerable<ConvGeometry> Shapes()
    {
        foreach (var c in ConvReference.AwkwardCases())
            if (c.SH == 1 && c.SW == 1 && DirectConvForward.Supports(c.Geometry)) yield return c.Geometry;
        foreach (int oc in new[] { 1, 2, 3, 5, 7, 8, 9, 32 })
            yield return ConvGeometry.Create(new Shape(2, 3, 13, 11), new Shape(oc, 3, 3, 3), 1, 1, Padding.Same);
        yield return ConvGeometry.Create(new Shape(3, 8, 32, 32), new Shape(8, 8, 3, 3), 1, 1, Padding.Same);
        yield return ConvGeometry.Create(new Shape(2, 16, 14, 14), new Shape(32, 16, 5, 5), 1, 1, Padding.Same);
        yield return ConvGeometry.Create(new Shape(1, 1, 28, 28), new Shape(16, 1, 5, 5), 1, 1, Padding.Same);
        yield return ConvGeometry.Create(new Shape(2, 4, 9, 7), new Shape(6, 4, 1, 1), 1, 1, Padding.Explicit(1, 1)); // padded 1×1
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Matches_a_fused_multiply_add_reference_on_awkward_shapes(VectorWidth width)
    {
        int seed = 0, checkedShapes = 0;
        foreach (var g in Shapes())
        {
            seed++;
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed + 1000);
            var bias = TestRandom.Uniform(g.OC, seed + 2000);
            var plan = ConvPlan.CreateDirect(g);
            Assert.Equal(ConvMethod.Direct, plan.Forward);
            var prepared = ConvInferenceWeights.Prepare(w, g, ConvMethod.Direct);
            var conv = Reference(x, w, g);
            foreach (int pool in new[] { 0, 2, 3 })
            foreach (bool relu in new[] { false, true })
            {
                PoolGeometry? plane = null;
                if (pool > 0)
                {
                    if (g.OH < pool || g.OW < pool) continue;
                    plane = PoolGeometry.Create(new Shape(1, 1, g.OH, g.OW), pool, pool, 2, 2);
                }
                var expected = Epilogue(conv, bias, g, relu, plane);
                var actual = new float[expected.Length + 3];
                TestRandom.Poison(actual);
                Conv2DForwardKernel.RunInference(x, prepared, bias, actual, plan, relu, plane, width);
                string what = $"{width} {g} relu {relu} pool {pool}";
                for (int i = 0; i < expected.Length; i++)
                {
                    bool same = HardwareFusesMultiplyAdd
                        ? BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])
                        : Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i]));
                    Assert.True(same, $"{what}: y[{i}] = {actual[i]}, expected {expected[i]}");
                }
                Assert.True(float.IsNaN(actual[^1]), $"{what}: wrote past the output");
            }
            checkedShapes++;
        }
        Assert.True(checkedShapes >= 40, $"only {checkedShapes} shapes ran");
    }

    public static TheoryData<int, int, int, int, bool, int> BandCases() => new()
    {
        // c, oc, size, kernel, same padding (else valid), pool (0: none; 2: 2×2/2; 3: 3×3/2, overlapping windows)
        { 8, 8, 32, 3, true, 2 },    // cifar-small's second layer: bands of pooled rows
        { 3, 8, 32, 3, true, 0 },    // its first
        { 16, 32, 14, 5, true, 2 },  // fmnist-cnn-k5's second: 7 pooled rows in bands of 4 and 3
        { 5, 7, 11, 3, false, 3 },   // valid padding, overlapping windows: bands recompute the rows they share
        { 3, 5, 41, 3, true, 2 },    // odd rows: the pool drops the last
    };

    [Theory]
    [MemberData(nameof(BandCases))]
    public void Row_bands_and_batches_give_each_images_bits(int c, int oc, int size, int kernel, bool same, int pool)
    {
        var one = ConvGeometry.Create(new Shape(1, c, size, size), new Shape(oc, c, kernel, kernel), 1, 1, same ? Padding.Same : Padding.Valid);
        var three = one with { N = 3 };
        var banded = ConvPlan.CreateDirect(one, threads: 2);
        Assert.True(banded.ForwardRowBands > 1, $"{one}: no bands to test");
        var batch = ConvPlan.CreateDirect(three, threads: 2);
        Assert.Equal(0, batch.ForwardRowBands);
        var x = TestRandom.Uniform(3 * c * size * size, 41);
        var w = TestRandom.Uniform(oc * one.PatchSize, 42);
        var prepared = ConvInferenceWeights.Prepare(w, one, ConvMethod.Direct);
        var bias = TestRandom.Uniform(oc, 43);
        PoolGeometry? plane = pool == 0 ? null : PoolGeometry.Create(new Shape(1, 1, one.OH, one.OW), pool, pool, 2, 2);
        int outputs = oc * (plane is { } p ? p.OH * p.OW : one.OutputPixels);
        var whole = new float[3 * outputs];
        Threads.On(2, () =>
        {
            Conv2DForwardKernel.RunInference(x, prepared, bias, whole, batch, relu: true, plane);
            return 0;
        });
        for (int image = 0; image < 3; image++)
        {
            var actual = new float[outputs + 3];
            TestRandom.Poison(actual);
            var input = x.AsSpan(image * c * size * size, c * size * size).ToArray();
            Threads.On(2, () =>
            {
                Conv2DForwardKernel.RunInference(input, prepared, bias, actual, banded, relu: true, plane);
                return 0;
            });
            Assert.Equal(whole.AsSpan(image * outputs, outputs).ToArray(), actual.AsSpan(0, outputs).ToArray());
            Assert.True(float.IsNaN(actual[^1]), "wrote past the output");
        }
    }

    [Fact]
    public void Auto_runs_direct_for_stride_one_patches_longer_than_nine_that_do_not_run_winograd()
    {
        static ConvMethod Method(int c, int oc, int kernel, int size, int stride = 1, Conv2DAlgorithm algorithm = Conv2DAlgorithm.Auto) =>
            ConvPlan.Create(ConvGeometry.Create(new Shape(128, c, size, size), new Shape(oc, c, kernel, kernel), stride, stride, Padding.Same),
                algorithm, threads: 2, forwardOnly: true).Forward;

        Assert.Equal(ConvMethod.Direct, Method(8, 8, 3, 32));     // cifar-small's 8-channel layers
        Assert.Equal(ConvMethod.Direct, Method(3, 32, 3, 32));    // CIFAR first layers (patch 27)
        Assert.Equal(ConvMethod.Direct, Method(16, 32, 5, 14));   // 5×5 (Winograd is 3×3 only)
        Assert.Equal(ConvMethod.Direct, Method(1, 16, 5, 28));
        Assert.Equal(ConvMethod.Im2Col, Method(1, 32, 3, 28));    // patch 9: the column matrix is cheap
        Assert.Equal(ConvMethod.Winograd, Method(16, 32, 3, 14)); // 16 channels each side: Winograd
        Assert.Equal(ConvMethod.Im2Col, Method(8, 8, 3, 32, stride: 2));
        Assert.Equal(ConvMethod.Im2Col, Method(8, 8, 3, 32, algorithm: Conv2DAlgorithm.Im2Col)); // an explicit setting rules
        // Training plans run it by the same rule where training does not run Winograd (which wants 32 channels each side).
        var g = ConvGeometry.Create(new Shape(128, 8, 32, 32), new Shape(8, 8, 3, 3), 1, 1, Padding.Same);
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(g, Conv2DAlgorithm.Auto, threads: 2).Forward);
        Assert.Equal(ConvMethod.Direct, Conv2DAlgorithms.TrainingForward(g with { N = 1 }, Conv2DAlgorithm.Auto));
        Assert.Equal(ConvMethod.Direct, Conv2DAlgorithms.InferenceForward(g with { N = 1 }, Conv2DAlgorithm.Auto));
        var sixteen = ConvGeometry.Create(new Shape(64, 16, 14, 14), new Shape(32, 16, 3, 3), 1, 1, Padding.Same);
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(sixteen, Conv2DAlgorithm.Auto, threads: 2).Forward);
        Assert.Equal(ConvMethod.Winograd, ConvPlan.Create(sixteen, Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).Forward);
        var wide = ConvGeometry.Create(new Shape(64, 32, 16, 16), new Shape(32, 32, 3, 3), 1, 1, Padding.Same);
        Assert.Equal(ConvMethod.Winograd, ConvPlan.Create(wide, Conv2DAlgorithm.Auto, threads: 2).Forward);
        Assert.Contains("direct", ConvPlan.Create(g with { N = 1 }, Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).DescribeForward());
    }

    [Fact]
    public void Weights_packed_for_im2col_are_refused_by_a_direct_plan()
    {
        var g = ConvGeometry.Create(new Shape(1, 8, 8, 8), new Shape(8, 8, 3, 3), 1, 1, Padding.Same); // patch 72: packed for im2col
        var packed = ConvInferenceWeights.Prepare(new float[8 * 72], g, ConvMethod.Im2Col);
        var e = Assert.Throws<ArgumentException>(() => Conv2DForwardKernel.RunInference(new float[512], packed, default,
            new float[512], ConvPlan.CreateDirect(g), relu: false, pool: null));
        Assert.Contains("not prepared", e.Message);
    }

    // y (N, OC, OH, OW) without bias: each output's patch summed in (c, ky, kx) order from zero with fused multiply-adds,
    // padding read as zeros — the order and the operations the direct product uses.
    private static float[] Reference(float[] x, float[] w, in ConvGeometry g)
    {
        var y = new float[g.N * g.OC * g.OutputPixels];
        for (int n = 0; n < g.N; n++)
        for (int oc = 0; oc < g.OC; oc++)
        for (int oy = 0; oy < g.OH; oy++)
        for (int ox = 0; ox < g.OW; ox++)
        {
            float sum = 0f;
            for (int c = 0; c < g.C; c++)
            for (int ky = 0; ky < g.KH; ky++)
            for (int kx = 0; kx < g.KW; kx++)
            {
                int iy = oy + ky - g.PadTop, ix = ox + kx - g.PadLeft;
                float value = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? x[((n * g.C + c) * g.H + iy) * g.W + ix] : 0f;
                sum = MathF.FusedMultiplyAdd(w[((oc * g.C + c) * g.KH + ky) * g.KW + kx], value, sum);
            }
            y[((n * g.OC + oc) * g.OH + oy) * g.OW + ox] = sum;
        }
        return y;
    }

    // Max-pool (when given) of the raw sums, then + bias, then ReLU (the first two commute with the max).
    private static float[] Epilogue(float[] conv, float[] bias, in ConvGeometry g, bool relu, PoolGeometry? plane)
    {
        int oh = plane?.OH ?? g.OH, ow = plane?.OW ?? g.OW;
        var y = new float[g.N * g.OC * oh * ow];
        for (int n = 0; n < g.N; n++)
        for (int oc = 0; oc < g.OC; oc++)
        for (int r = 0; r < oh; r++)
        for (int col = 0; col < ow; col++)
        {
            float v;
            if (plane is { } p)
            {
                v = float.NegativeInfinity;
                for (int i = 0; i < p.KH; i++)
                for (int j = 0; j < p.KW; j++)
                    v = MathF.Max(v, conv[((n * g.OC + oc) * g.OH + r * p.StrideH + i) * g.OW + col * p.StrideW + j]);
            }
            else v = conv[((n * g.OC + oc) * g.OH + r) * g.OW + col];
            v += bias[oc];
            y[((n * g.OC + oc) * oh + r) * ow + col] = relu ? MathF.Max(v, 0f) : v;
        }
        return y;
    }
}
