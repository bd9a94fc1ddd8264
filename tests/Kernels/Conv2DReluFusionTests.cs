using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Gradients;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The fused Conv2D + ReLU against the unfused ops: the same GEMMs with only the ReLU moved, so forward and backward must
/// agree BITWISE — on every convolution of the study models, on each algorithm and image grouping, and at the awkward
/// values (pre-activations exactly 0, ±tiny, NaN; upstream gradients −0 and NaN where the ReLU blocks them).
/// </summary>
public class Conv2DReluFusionTests
{
    // ---------------------------------------------------------------- the mask kernel

    public static IEnumerable<object[]> Lengths()
    {
        for (int n = 0; n <= 256; n++) yield return [n];
        yield return [257];
        yield return [1000];
        yield return [1031];
    }

    /// <summary>y and dy with the special values mixed in: 0, −0, ±tiny, NaN, ±∞.</summary>
    private static (float[] Y, float[] Dy) MaskData(int n, int seed)
    {
        var y = TestRandom.Uniform(n, seed);
        var dy = TestRandom.Uniform(n, seed + 1);
        float[] specials = [0f, -0f, 1e-38f, -1e-38f, float.Epsilon, -float.Epsilon, float.NaN, float.PositiveInfinity, float.NegativeInfinity];
        var rng = new Random(seed + 2);
        for (int i = 0; i < n; i++)
        {
            if (rng.Next(4) == 0) y[i] = specials[rng.Next(specials.Length)];
            if (rng.Next(4) == 0) dy[i] = specials[rng.Next(specials.Length)];
        }
        return (y, dy);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Mask_is_bitwise_relu_backward_into_zeros(int n)
    {
        var (y, dy) = MaskData(n, n);
        var expected = new float[n]; // zero-filled, as Tape.GradOf makes it
        Relu.Backward(y, dy, expected);
        for (int i = 0; i < n; i++) // and the rule in words: ReLU'(y) = 1 for y > 0 only; 0 + dy turns −0 into +0
            Assert.Equal(BitConverter.SingleToInt32Bits(y[i] > 0f ? 0f + dy[i] : 0f), BitConverter.SingleToInt32Bits(expected[i]));

        var masked = new float[n];
        TestRandom.Poison(masked);
        Conv2DReluKernels.MaskGradient(y, dy, masked);
        AssertBitwise(expected, masked, $"mask, length {n}");

        // In place over dy.
        Conv2DReluKernels.MaskGradient(y, dy, dy);
        AssertBitwise(expected, dy, $"mask in place, length {n}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Bias_relu_is_bitwise_bias_add_then_relu_forward(int n)
    {
        var (src, _) = MaskData(n, n + 7);
        foreach (float bias in new[] { 0f, -0f, 0.25f, -0.5f, 1e-38f, float.NaN })
        {
            var expected = new float[n];
            System.Numerics.Tensors.TensorPrimitives.Add(src, bias, expected);
            Relu.Forward(expected, expected);
            foreach (var vectors in VectorWidths.Supported)
            {
                var actual = new float[n];
                TestRandom.Poison(actual);
                Conv2DReluKernels.BiasRelu(src, bias, actual, vectors);
                AssertBitwise(expected, actual, $"{vectors}: bias {bias}, length {n}");
                if (bias == 0f)
                {
                    var plain = new float[n];
                    Relu.Forward(src, plain); // bias 0 is the plain ReLU
                    AssertBitwise(plain, actual, $"{vectors}: bias 0 vs ReLU, length {n}");
                }
                var inPlace = (float[])src.Clone();
                Conv2DReluKernels.BiasRelu(inPlace, bias, inPlace, vectors);
                AssertBitwise(expected, inPlace, $"{vectors}: bias {bias} in place, length {n}");
            }
        }
    }

    [Fact]
    public void Mask_rejects_mismatched_lengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => Conv2DReluKernels.MaskGradient(new float[4], new float[5], new float[4]));
        Assert.Contains("Conv2DReluKernels", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Conv2DReluKernels.BiasRelu(new float[4], 0f, new float[3]));
        Assert.Contains("Conv2DReluKernels", ex.Message);
    }

    // ---------------------------------------------------------------- kernels, every study convolution

    /// <summary>Every distinct (C, H, W, OC, K, stride, padding) that a study model runs as Conv2D followed by ReLU.</summary>
    public static IEnumerable<object[]> StudyConvolutions()
    {
        var seen = new HashSet<string>();
        foreach (var name in ModelZoo.Names)
        {
            var model = ModelZoo.Create(name, seed: 1);
            if (model is not Sequential sequential) continue;
            var shape = ModelZoo.BatchInputShape(name, 1);
            var layers = sequential.Layers;
            for (int i = 0; i < layers.Count; i++)
            {
                if (layers[i] is Conv2D conv && i + 1 < layers.Count && layers[i + 1] is ReLU)
                {
                    string key = $"{shape[1]}x{shape[2]}x{shape[3]}->{conv.OutChannels} k{conv.Kernel} s{conv.Stride} {conv.Padding}";
                    if (seen.Add(key))
                        yield return [key, shape[1], shape[2], shape[3], conv.OutChannels, conv.Kernel, conv.Stride];
                }
                shape = layers[i].OutputShape(shape);
            }
        }
    }

    [Fact]
    public void The_study_models_have_fusable_convolutions()
    {
        var all = StudyConvolutions().ToList();
        Assert.True(all.Count >= 10, $"only {all.Count} study convolutions found");
        Assert.Contains(all, c => (int)c[1] >= 32 && (int)c[4] >= 32 && (int)c[5] == 3); // a Winograd (Auto) layer
        Assert.Contains(all, c => (int)c[5] == 5);                                          // fmnist-cnn-k5
    }

    [Theory]
    [MemberData(nameof(StudyConvolutions))]
    public void Study_convolution_fused_equals_unfused_bitwise(string name, int c, int h, int w, int oc, int k, int stride)
    {
        const int n = 3;
        var g = ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, k, k), stride, stride, Padding.Same);
        var x = TestRandom.Uniform(n * c * h * w, c + h);
        var wt = TestRandom.Uniform(oc * c * k * k, oc + k);
        var bias = TestRandom.Uniform(oc, 3);
        var dy = TestRandom.Uniform(n * oc * g.OutputPixels, 4);
        var algorithms = WinogradProblem.Supports(g)
            ? new[] { Conv2DAlgorithm.Auto, Conv2DAlgorithm.Im2Col, Conv2DAlgorithm.Winograd }
            : new[] { Conv2DAlgorithm.Auto };
        foreach (var algorithm in algorithms)
        foreach (int imagesPerGemm in new[] { 0, 2 }) // 2: a group of two images and one of one (gathered dY)
            AssertFusedEqualsUnfused(x, wt, bias, dy, g, algorithm, imagesPerGemm, $"{name} {algorithm} images/GEMM {imagesPerGemm}");
    }

    private static void AssertFusedEqualsUnfused(float[] x, float[] wt, float[] bias, float[] dy, in ConvGeometry g,
        Conv2DAlgorithm algorithm, int imagesPerGemm, string what)
    {
        // Forward: conv, then ReLU over the whole tensor — vs the fused kernel (output poisoned first).
        var expectedY = new float[dy.Length];
        Conv2DForwardKernel.Run(x, wt, bias, expectedY, g, imagesPerGemm, algorithm);
        Relu.Forward(expectedY, expectedY);
        var y = new float[dy.Length];
        TestRandom.Poison(y);
        Conv2DForwardKernel.Run(x, wt, bias, y, g, imagesPerGemm, algorithm, relu: true);
        AssertBitwise(expectedY, y, what + " forward");

        // Backward: ReLU backward into a zeroed gradient, then the conv backward — vs the fused kernel. The gradients start
        // non-zero: both must accumulate.
        var masked = new float[dy.Length];
        Relu.Backward(y, dy, masked);
        var (edx, edw, edb) = (TestRandom.Uniform(x.Length, 5), TestRandom.Uniform(wt.Length, 6), TestRandom.Uniform(bias.Length, 7));
        var (dx, dw, db) = ((float[])edx.Clone(), (float[])edw.Clone(), (float[])edb.Clone());
        Conv2DBackwardKernel.Run(x, wt, masked, edx, edw, edb, g, imagesPerGemm, algorithm);
        Conv2DBackwardKernel.RunRelu(x, wt, y, dy, dx, dw, db, g, imagesPerGemm, algorithm);
        AssertBitwise(edx, dx, what + " dx");
        AssertBitwise(edw, dw, what + " dW");
        AssertBitwise(edb, db, what + " dBias");

        // Without dx (a first layer): the dW / dBias pass alone.
        var (edw2, edb2, dw2, db2) = (new float[wt.Length], new float[bias.Length], new float[wt.Length], new float[bias.Length]);
        Conv2DBackwardKernel.Run(x, wt, masked, default, edw2, edb2, g, imagesPerGemm, algorithm);
        Conv2DBackwardKernel.RunRelu(x, wt, y, dy, default, dw2, db2, g, imagesPerGemm, algorithm);
        AssertBitwise(edw2, dw2, what + " dW (no dx)");
        AssertBitwise(edb2, db2, what + " dBias (no dx)");
    }

    [Fact]
    public void Fused_backward_rejects_a_short_relu_output()
    {
        var g = ConvGeometry.Create(new Shape(2, 3, 5, 5), new Shape(4, 3, 3, 3), 1, 1, Padding.Same);
        var ex = Assert.Throws<ArgumentException>(() => Conv2DBackwardKernel.RunRelu(new float[150], new float[108], new float[10],
            new float[200], default, new float[108], default, g));
        Assert.Contains("ReLU output", ex.Message);
    }

    // ---------------------------------------------------------------- the op, at the awkward values

    public static TheoryData<int, int, int, int, int, int, int, string, string> OpCases => new()
    {
        // N, C, H, W, OC, K, stride, padding, algorithm
        { 3, 5, 9, 7, 6, 3, 2, "same", "im2col" },
        { 2, 3, 9, 8, 6, 5, 1, "valid", "im2col" },
        { 2, 7, 5, 6, 6, 1, 1, "valid", "im2col" },
        { 3, 5, 9, 7, 6, 3, 1, "same", "winograd" },
        { 2, 33, 6, 6, 34, 3, 1, "same", "auto" },
    };

    [Theory]
    [MemberData(nameof(OpCases))]
    public void Op_fused_equals_unfused_bitwise_at_zero_tiny_and_nan(int n, int c, int h, int w, int oc, int k, int stride,
        string padding, string algorithmName)
    {
        var pad = padding switch { "same" => Padding.Same, _ => Padding.Valid };
        var algorithm = Enum.Parse<Conv2DAlgorithm>(algorithmName, ignoreCase: true);
        using var force = Conv2DAlgorithms.Force(algorithm);
        var xv = TestRandom.Uniform(n * c * h * w, 1);
        var wv = TestRandom.Uniform(oc * c * k * k, 2);
        var bv = TestRandom.Uniform(oc, 3);
        // Output channels 0..4 have zero weights, so their pre-activation is exactly the bias: 0 (ReLU'(0) = 0), −0,
        // +tiny (passes), −tiny (blocked), NaN (blocked, and NaN stays NaN forward).
        float[] special = [0f, -0f, 1e-30f, -1e-30f, float.NaN];
        for (int o = 0; o < special.Length; o++)
        {
            Array.Clear(wv, o * c * k * k, c * k * k);
            bv[o] = special[o];
        }

        var unfused = Run(fused: false);
        var fusedResult = Run(fused: true);
        for (int i = 0; i < unfused.Length; i++) AssertBitwise(unfused[i], fusedResult[i], $"{algorithm} result {i}");
        Assert.Contains(unfused[0], v => float.IsNaN(v)); // the NaN channel came through the forward
        Assert.DoesNotContain(unfused[2], v => float.IsNaN(v)); // and its gradient was blocked, as the other specials'

        float[][] Run(bool fused)
        {
            using var x = GradCheck.Input("x", xv, new Shape(n, c, h, w));
            using var wt = GradCheck.Input("w", wv, new Shape(oc, c, k, k));
            using var b = GradCheck.Input("bias", bv, new Shape(oc));
            var tape = Tape.Current;
            tape.Reset();
            var y = fused ? Op.Conv2DRelu(x, wt, b, stride, pad) : Op.Relu(Op.Conv2D(x, wt, b, stride, pad));
            var yv = y.ToArray();
            // Upstream gradient: random with −0s, and NaN wherever the ReLU blocks (y ≤ 0 or NaN), which must not leak.
            var seed = TestRandom.Uniform(y.Length, 4);
            for (int i = 0; i < seed.Length; i++)
                if (!(yv[i] > 0f)) seed[i] = i % 3 == 0 ? float.NaN : seed[i];
                else if (i % 7 == 0) seed[i] = -0f;
            using (var s = Tensor.FromArray(seed, y.Shape)) y.Backward(s);
            var result = new[] { yv, x.Grad!.ToArray(), wt.Grad!.ToArray(), b.Grad!.ToArray() };
            tape.Reset();

            // Inference (no tape) gives the same forward.
            using (Tape.NoGrad())
            {
                var y2 = fused ? Op.Conv2DRelu(x, wt, b, stride, pad) : Op.Relu(Op.Conv2D(x, wt, b, stride, pad));
                AssertBitwise(yv, y2.ToArray(), "no-grad forward");
            }
            tape.Reset();
            return result;
        }
    }

    internal static void AssertBitwise(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8}), expected {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8}).");
    }
}
