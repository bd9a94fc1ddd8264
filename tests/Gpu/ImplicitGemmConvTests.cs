using NativeConv.Gpu;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gpu;

/// <summary>
/// The ILGPU backend's two Conv2D lowerings (implicit GEMM, the default, and im2col + GEMM) and its implicit weight gradient
/// (one launch over the whole batch, split along K with a deterministic split sum) against the SIMD CPU engine, on ILGPU's
/// CPU accelerator: 4 × 4 groups, so a 16 × 16 output tile and 16-deep K slices. The cases use 1×1 kernels, prime channel
/// counts, output and patch sizes that are not multiples of 16, asymmetric kernels and strides, every padding mode, kernels
/// larger than the input, and batches of 1 and 3. Outputs start as NaN (forward) or random values (dW accumulates).
/// </summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public class ImplicitGemmConvTests
{
    private static IlgpuBackend Gpu => TestBackends.IlgpuCpu;

    public static TheoryData<int, int, int, int, int, int, int, int, int, string> Cases => new()
    {
        // N, C, H, W, OC, KH, KW, strideH, strideW, padding
        { 1, 1, 1, 1, 1, 1, 1, 1, 1, "valid" },      // the smallest convolution
        { 3, 5, 4, 6, 7, 1, 1, 1, 1, "valid" },      // pointwise (im2col skips its column matrix here)
        { 1, 3, 7, 5, 2, 1, 1, 2, 2, "valid" },      // 1×1 with stride 2: not pointwise
        { 1, 7, 9, 11, 17, 3, 3, 1, 1, "same" },     // primes; OC and OH·OW (99) past one 16-wide tile; K = 63
        { 3, 2, 10, 9, 5, 3, 3, 2, 2, "explicit" },  // stride 2 with explicit padding, batch 3
        { 3, 3, 8, 7, 13, 3, 2, 2, 1, "same" },      // asymmetric kernel and stride, 'same' with uneven padding
        { 1, 2, 2, 3, 3, 5, 5, 1, 1, "same" },       // kernel larger than the input: most taps read padding
        { 2, 11, 6, 5, 19, 2, 3, 3, 2, "valid" },    // K = 66 (4 full slices + a tail), OC past a tile, batch 2
    };

    private static ConvGeometry Geometry(int n, int c, int h, int w, int oc, int kh, int kw, int strideH, int strideW, string padding) =>
        ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, kh, kw), strideH, strideW,
            padding switch { "same" => Padding.Same, "explicit" => Padding.Explicit(1, 2), _ => Padding.Valid });

    private static Tensor OnGpu(float[] values, Shape shape) => Tensor.FromArray(values, shape, Gpu);

    private static Tensor OnCpu(float[] values, Shape shape) => Tensor.FromArray(values, shape, CpuBackend.Instance);

    private static void AssertClose(float[] expected, float[] actual, string what, float atol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!(Math.Abs(e - a) <= atol + 1e-4f * Math.Abs(e)))
                Assert.Fail($"{what}: element {i} of {expected.Length}: expected {e:G9}, got {a:G9} (|diff| {Math.Abs(e - a):G3}).");
        }
    }

    // Runs `body` with the backend switched to `algorithm` and restores the defaults afterwards (the backend is shared).
    private static void With(ConvAlgorithm algorithm, int splits, Action body)
    {
        Gpu.ConvAlgorithm = algorithm;
        Gpu.ConvWeightGradSplits = splits;
        try { body(); }
        finally
        {
            Gpu.ConvAlgorithm = ConvAlgorithm.ImplicitGemm;
            Gpu.ConvWeightGradSplits = 0;
        }
    }

    [Fact]
    public void Implicit_gemm_is_the_default()
    {
        Assert.Equal(ConvAlgorithm.ImplicitGemm, Gpu.ConvAlgorithm);
        Assert.Equal(0, Gpu.ConvWeightGradSplits);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_both_algorithms_match_the_cpu_engine(int n, int c, int h, int w, int oc, int kh, int kw, int strideH, int strideW, string padding)
    {
        var g = Geometry(n, c, h, w, oc, kh, kw, strideH, strideW, padding);
        var x = TestRandom.Uniform(g.InputShape.Size, 41);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 42);
        var bias = TestRandom.Uniform(oc, 43);
        using var xCpu = OnCpu(x, g.InputShape);
        using var wCpu = OnCpu(wt, g.WeightShape);
        using var bCpu = OnCpu(bias, new Shape(oc));
        using var xGpu = OnGpu(x, g.InputShape);
        using var wGpu = OnGpu(wt, g.WeightShape);
        using var bGpu = OnGpu(bias, new Shape(oc));
        float atol = 1e-5f * g.PatchSize;

        foreach (var algorithm in new[] { ConvAlgorithm.ImplicitGemm, ConvAlgorithm.Im2ColGemm })
            foreach (bool withBias in new[] { false, true })
            {
                using var expected = Tensor.Zeros(g.OutputShape, CpuBackend.Instance);
                CpuBackend.Instance.Conv2DForward(xCpu, wCpu, withBias ? bCpu : null, expected, g);
                var poison = new float[g.OutputShape.Size];
                TestRandom.Poison(poison);
                using var y = OnGpu(poison, g.OutputShape);
                With(algorithm, 0, () => Gpu.Conv2DForward(xGpu, wGpu, withBias ? bGpu : null, y, g));
                AssertClose(expected.ToArray(), y.ToArray(), $"Conv2DForward {algorithm} bias={withBias} {g}", atol);
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Weight_gradient_matches_the_cpu_engine_for_any_split(int n, int c, int h, int w, int oc, int kh, int kw, int strideH, int strideW, string padding)
    {
        var g = Geometry(n, c, h, w, oc, kh, kw, strideH, strideW, padding);
        var x = TestRandom.Uniform(g.InputShape.Size, 51);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 52);
        var dy = TestRandom.Uniform(g.OutputShape.Size, 53);
        var dwStart = TestRandom.Uniform(g.WeightShape.Size, 54); // dW accumulates: start from random values
        using var xCpu = OnCpu(x, g.InputShape);
        using var wCpu = OnCpu(wt, g.WeightShape);
        using var dyCpu = OnCpu(dy, g.OutputShape);
        using var expected = OnCpu(dwStart, g.WeightShape);
        CpuBackend.Instance.Conv2DBackward(xCpu, wCpu, dyCpu, null, expected, null, g);
        var want = expected.ToArray();

        using var xGpu = OnGpu(x, g.InputShape);
        using var wGpu = OnGpu(wt, g.WeightShape);
        using var dyGpu = OnGpu(dy, g.OutputShape);
        float atol = 1e-5f * g.N * g.OutputPixels;
        int depth = g.N * g.OutputPixels;
        // 0: the device's choice; 1: straight into dW; 2, 3, 5: partials whose K ranges (whole 16-deep slices) end inside an
        // image, summed in split order; `depth`: as many as the 16-deep slices allow.
        foreach (int splits in new[] { 0, 1, 2, 3, 5, depth })
        {
            using var dw = OnGpu(dwStart, g.WeightShape);
            With(ConvAlgorithm.ImplicitGemm, splits, () => Gpu.Conv2DBackward(xGpu, wGpu, dyGpu, null, dw, null, g));
            AssertClose(want, dw.ToArray(), $"Conv2DBackward dW implicit, splits={splits} {g}", atol);
        }
        using var dwIm2Col = OnGpu(dwStart, g.WeightShape);
        With(ConvAlgorithm.Im2ColGemm, 0, () => Gpu.Conv2DBackward(xGpu, wGpu, dyGpu, null, dwIm2Col, null, g));
        AssertClose(want, dwIm2Col.ToArray(), $"Conv2DBackward dW im2col {g}", atol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Full_backward_with_the_implicit_weight_gradient_matches_the_cpu_engine(int n, int c, int h, int w, int oc, int kh, int kw, int strideH, int strideW, string padding)
    {
        var g = Geometry(n, c, h, w, oc, kh, kw, strideH, strideW, padding);
        var x = TestRandom.Uniform(g.InputShape.Size, 61);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 62);
        var dy = TestRandom.Uniform(g.OutputShape.Size, 63);
        var dxStart = TestRandom.Uniform(x.Length, 64);
        var dwStart = TestRandom.Uniform(wt.Length, 65);
        var dbStart = TestRandom.Uniform(oc, 66);
        using var xCpu = OnCpu(x, g.InputShape);
        using var wCpu = OnCpu(wt, g.WeightShape);
        using var dyCpu = OnCpu(dy, g.OutputShape);
        using var dxCpu = OnCpu(dxStart, g.InputShape);
        using var dwCpu = OnCpu(dwStart, g.WeightShape);
        using var dbCpu = OnCpu(dbStart, new Shape(oc));
        CpuBackend.Instance.Conv2DBackward(xCpu, wCpu, dyCpu, dxCpu, dwCpu, dbCpu, g);

        using var xGpu = OnGpu(x, g.InputShape);
        using var wGpu = OnGpu(wt, g.WeightShape);
        using var dyGpu = OnGpu(dy, g.OutputShape);
        using var dxGpu = OnGpu(dxStart, g.InputShape);
        using var dwGpu = OnGpu(dwStart, g.WeightShape);
        using var dbGpu = OnGpu(dbStart, new Shape(oc));
        Gpu.Conv2DBackward(xGpu, wGpu, dyGpu, dxGpu, dwGpu, dbGpu, g); // defaults: implicit dW, automatic splits
        float atol = 1e-5f * Math.Max(g.PatchSize, g.N * g.OutputPixels);
        AssertClose(dxCpu.ToArray(), dxGpu.ToArray(), $"Conv2DBackward dx {g}", atol);
        AssertClose(dwCpu.ToArray(), dwGpu.ToArray(), $"Conv2DBackward dW {g}", atol);
        AssertClose(dbCpu.ToArray(), dbGpu.ToArray(), $"Conv2DBackward dBias {g}", atol);
    }

    [Fact]
    public void Split_weight_gradient_is_bitwise_reproducible_and_close_to_one_split()
    {
        // Batch 3 of 9×8 outputs: 216 pixels, so 4 splits of 64 cut through images. Two runs must agree to the bit (fixed
        // sum order), and differ from the unsplit sum only by rounding.
        var g = Geometry(3, 4, 9, 8, 6, 3, 3, 1, 1, "same");
        var x = TestRandom.Uniform(g.InputShape.Size, 71);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 72);
        var dy = TestRandom.Uniform(g.OutputShape.Size, 73);
        using var xGpu = OnGpu(x, g.InputShape);
        using var wGpu = OnGpu(wt, g.WeightShape);
        using var dyGpu = OnGpu(dy, g.OutputShape);
        float[] Run(int splits)
        {
            using var dw = Tensor.Zeros(g.WeightShape, Gpu);
            With(ConvAlgorithm.ImplicitGemm, splits, () => Gpu.Conv2DBackward(xGpu, wGpu, dyGpu, null, dw, null, g));
            return dw.ToArray();
        }
        var first = Run(4);
        Assert.Equal(first, Run(4));
        AssertClose(Run(1), first, "dW with 4 splits vs 1", 1e-5f * g.N * g.OutputPixels);
    }
}
