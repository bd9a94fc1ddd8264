using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>The forward/backward drivers (im2col + GEMM, image groups, chunked reductions) against the direct double convolution.</summary>
public class Conv2DKernelTests
{
    // 0 = the automatic choice; 1 = one image per GEMM; 3 = groups of three images side by side (with a ragged last group).
    public static TheoryData<int> GroupSizes => new() { 0, 1, 3 };

    [Theory]
    [MemberData(nameof(GroupSizes))]
    public void Forward_matches_direct_convolution(int imagesPerGemm)
    {
        int seed = 1;
        foreach (var testCase in ConvReference.AwkwardCases())
        {
            var g = testCase.Geometry;
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var bias = seed % 2 == 0 ? TestRandom.Uniform(g.OC, seed) : null;
            var y = new float[g.N * g.OC * g.OutputPixels];
            TestRandom.Poison(y);
            Conv2DForwardKernel.Run(x, w, bias, y, g, imagesPerGemm);
            var (expected, scale) = ConvReference.Forward(x, w, bias, g);
            ConvReference.AssertClose(y, expected, scale, $"forward {testCase} bias={bias is not null}");
        }
    }

    [Theory]
    [MemberData(nameof(GroupSizes))]
    public void Backward_accumulates_direct_gradients(int imagesPerGemm)
    {
        int seed = 500;
        foreach (var testCase in ConvReference.AwkwardCases())
        {
            var g = testCase.Geometry;
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, seed++);
            // Backward accumulates: start from random gradients and expect initial + gradient.
            var dx0 = TestRandom.Uniform(x.Length, seed++);
            var dw0 = TestRandom.Uniform(w.Length, seed++);
            var db0 = TestRandom.Uniform(g.OC, seed++);
            var (dx, dw, db) = ((float[])dx0.Clone(), (float[])dw0.Clone(), (float[])db0.Clone());
            Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, g, imagesPerGemm);

            var r = ConvReference.Backward(x, w, dy, g);
            ConvReference.AssertClose(dx, Plus(dx0, r.Dx), Plus1(r.DxScale), $"dx {testCase}");
            ConvReference.AssertClose(dw, Plus(dw0, r.Dw), Plus1(r.DwScale), $"dw {testCase}");
            ConvReference.AssertClose(db, Plus(db0, r.DBias), Plus1(r.DBiasScale), $"dBias {testCase}");
        }
    }

    [Fact]
    public void Backward_with_null_targets_touches_only_the_requested_gradients()
    {
        var g = ConvGeometry.Create(new Shape(5, 3, 6, 7), new Shape(4, 3, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(5 * 3 * 6 * 7, 1);
        var w = TestRandom.Uniform(4 * 27, 2);
        var dy = TestRandom.Uniform(5 * 4 * 42, 3);
        var r = ConvReference.Backward(x, w, dy, g);
        for (int mask = 0; mask < 8; mask++)
        {
            var dx = (mask & 1) != 0 ? new float[x.Length] : null;
            var dw = (mask & 2) != 0 ? new float[w.Length] : null;
            var db = (mask & 4) != 0 ? new float[4] : null;
            Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, g);
            if (dx is not null) ConvReference.AssertClose(dx, r.Dx, r.DxScale, $"dx mask {mask}");
            if (dw is not null) ConvReference.AssertClose(dw, r.Dw, r.DwScale, $"dw mask {mask}");
            if (db is not null) ConvReference.AssertClose(db, r.DBias, r.DBiasScale, $"dBias mask {mask}");
        }
    }

    // The study shapes (3×3 same, stride 1) at a batch big enough for many chunks and image groups.
    [Theory]
    [InlineData(19, 16, 14, 14, 32)]
    [InlineData(9, 64, 8, 8, 24)]
    [InlineData(7, 3, 32, 32, 8)]
    [InlineData(6, 16, 5, 5, 16)]
    public void Study_shapes_forward_and_backward(int n, int c, int h, int w, int oc)
    {
        var g = ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(n * c * h * w, 1);
        var wt = TestRandom.Uniform(oc * c * 9, 2);
        var bias = TestRandom.Uniform(oc, 3);
        var dy = TestRandom.Uniform(n * oc * h * w, 4);
        var y = new float[dy.Length];
        TestRandom.Poison(y);
        Conv2DForwardKernel.Run(x, wt, bias, y, g);
        var (ey, ys) = ConvReference.Forward(x, wt, bias, g);
        ConvReference.AssertClose(y, ey, ys, "y");

        var (dx, dw, db) = (new float[x.Length], new float[wt.Length], new float[oc]);
        Conv2DBackwardKernel.Run(x, wt, dy, dx, dw, db, g);
        var r = ConvReference.Backward(x, wt, dy, g);
        ConvReference.AssertClose(dx, r.Dx, r.DxScale, "dx");
        ConvReference.AssertClose(dw, r.Dw, r.DwScale, "dw");
        ConvReference.AssertClose(db, r.DBias, r.DBiasScale, "dBias");
    }

    public static TheoryData<Conv2DAlgorithm, bool> AlgorithmsAndRelu => new()
    {
        { Conv2DAlgorithm.Im2Col, false }, { Conv2DAlgorithm.Im2Col, true },
        { Conv2DAlgorithm.Winograd, false }, { Conv2DAlgorithm.Winograd, true },
    };

    [Theory]
    [MemberData(nameof(AlgorithmsAndRelu))]
    public void Backward_overwrites_a_fresh_dx_with_what_it_would_add_to_zeros(Conv2DAlgorithm algorithm, bool relu)
    {
        // accumulateDx: false writes every dx element, never reading the old (poisoned) contents: the same values as
        // accumulating into zeros (up to the sign of a zero), for every awkward geometry, 1×1 (the no-col2im path) and the
        // study shapes, with several image-group sizes; Winograd where it applies (else the same im2col path).
        int seed = 9000;
        var cases = ConvReference.AwkwardCases().Select(c => c.Geometry)
            .Append(ConvGeometry.Create(new Shape(3, 8, 6, 6), new Shape(5, 8, 1, 1), 1, 1, Padding.Valid))
            .Append(ConvGeometry.Create(new Shape(5, 32, 16, 16), new Shape(32, 32, 3, 3), 1, 1, Padding.Same))
            .Append(ConvGeometry.Create(new Shape(4, 16, 14, 14), new Shape(32, 16, 3, 3), 1, 1, Padding.Same));
        using var forced = Conv2DAlgorithms.Force(algorithm);
        foreach (var g in cases)
            foreach (int imagesPerGemm in new[] { 0, 1, 3 })
            {
                var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
                var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
                var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, seed++);
                var y = TestRandom.Uniform(dy.Length, seed++); // the ReLU output: about half of it masks dy
                var expected = new float[x.Length];
                var actual = new float[x.Length];
                TestRandom.Poison(actual);
                if (relu)
                {
                    Conv2DBackwardKernel.RunRelu(x, w, y, dy, expected, default, default, g, imagesPerGemm);
                    Conv2DBackwardKernel.RunRelu(x, w, y, dy, actual, default, default, g, imagesPerGemm, accumulateDx: false);
                }
                else
                {
                    Conv2DBackwardKernel.Run(x, w, dy, expected, default, default, g, imagesPerGemm);
                    Conv2DBackwardKernel.Run(x, w, dy, actual, default, default, g, imagesPerGemm, accumulateDx: false);
                }
                for (int i = 0; i < x.Length; i++)
                    if (!(actual[i] == expected[i]))
                        Assert.Fail($"{algorithm} relu={relu} {g} imagesPerGemm={imagesPerGemm}: dx[{i}] = {actual[i]:R}, expected {expected[i]:R}.");
            }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    public void Backward_is_bitwise_reproducible(int imagesPerGemm)
    {
        var g = ConvGeometry.Create(new Shape(37, 5, 9, 9), new Shape(7, 5, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(37 * 5 * 81, 1);
        var w = TestRandom.Uniform(7 * 45, 2);
        var dy = TestRandom.Uniform(37 * 7 * 81, 3);
        float[]? firstDw = null, firstDb = null, firstDx = null;
        for (int run = 0; run < 3; run++)
        {
            var (dx, dw, db) = (new float[x.Length], new float[w.Length], new float[7]);
            Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, g, imagesPerGemm);
            if (firstDw is null) { firstDw = dw; firstDb = db; firstDx = dx; continue; }
            Assert.Equal(firstDw, dw); // float[] equality is element-wise bitwise-or-equal; NaN-free here
            Assert.Equal(firstDb, db);
            Assert.Equal(firstDx, dx);
        }
    }

    [Fact]
    public void Rejects_spans_too_small_for_the_geometry()
    {
        var g = ConvGeometry.Create(new Shape(2, 3, 5, 5), new Shape(4, 3, 3, 3), 1, 1, Padding.Same);
        Assert.Throws<ArgumentException>(() => Conv2DForwardKernel.Run(new float[149], new float[108], default, new float[200], g));
        Assert.Throws<ArgumentException>(() => Conv2DBackwardKernel.Run(new float[150], new float[108], new float[200], new float[150], new float[107], default, g));
    }

    private static double[] Plus(float[] initial, double[] delta)
    {
        var result = new double[delta.Length];
        for (int i = 0; i < delta.Length; i++) result[i] = initial[i] + delta[i];
        return result;
    }

    private static double[] Plus1(double[] scale)
    {
        var result = new double[scale.Length];
        for (int i = 0; i < scale.Length; i++) result[i] = scale[i] + 1; // the initial value (|v| ≤ 1) is one more term
        return result;
    }
}
