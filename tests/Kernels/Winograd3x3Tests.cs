using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// Winograd F(2×2, 3×3): forward, dx and dW (+ dBias) against the direct double convolution on awkward sizes, every
/// transform width the machine runs, forced group sizes; and against the im2col path on the study shapes.
///
/// Tolerance: |a − e| ≤ 1e-5·Σ|terms| + 1e-6, the same bound as the im2col tests. Winograd rounds more than a dot
/// product (the input transform adds up to 4 inputs, the kernel transform 9 weights ×¼, the output transform 9 products),
/// but with K ≤ 128 that stays far inside: the worst error measured on 64→128 @8 is 9.5e-8·Σ|terms|
/// (Max_error_stays_small asserts < 1e-6). The bound still fails any wrong index, dropped tap or NaN.
/// </summary>
public class Winograd3x3Tests
{
    private const double RelativeTolerance = 1e-5;

    public static TheoryData<VectorWidth> Widths() => VectorWidths.All();

    private static readonly Padding[] Paddings =
        [Padding.Valid, Padding.Same, Padding.Explicit(2, 2), Padding.Explicit(1, 2), Padding.Explicit(2, 0), Padding.Explicit(0, 1)];

    /// <summary>(N, C, H, W, OC): sizes 1, 2, 3, 5, 7, 13, 14, 32, non-square; channels 1, 3, 7, 17, 33; batch 1..5.</summary>
    public static IEnumerable<(int N, int C, int H, int W, int OC)> Shapes()
    {
        int[] sizes = [1, 2, 3, 5, 7, 13, 14, 32];
        int[] channels = [1, 3, 7, 17, 33];
        int i = 0;
        foreach (int h in sizes)
        foreach (int w in sizes)
        {
            if (h != w && (h * 5 + w) % 2 == 1) continue; // about half of the non-square pairs, all square ones
            int c = channels[i % channels.Length], oc = channels[(i * 3 + 1) % channels.Length], n = 1 + i % 5;
            if (h * w >= 400 && c * oc > 200) (c, oc) = (3, 7); // keep the 32×32 cases quick
            i++;
            yield return (n, c, h, w, oc);
        }
    }

    public static IEnumerable<ConvGeometry> Geometries()
    {
        int i = 0;
        foreach (var (n, c, h, w, oc) in Shapes())
        {
            var padding = Paddings[i++ % Paddings.Length];
            for (int attempt = 0; attempt < Paddings.Length; attempt++, padding = Paddings[i++ % Paddings.Length])
            {
                ConvGeometry g;
                try { g = ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, 3, 3), 1, 1, padding); }
                catch (ArgumentException) { continue; } // valid padding on a 1×1 or 2×2 image
                Assert.True(WinogradProblem.Supports(g));
                yield return g;
                break;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Forward_matches_direct_convolution(VectorWidth width)
    {
        int seed = 11, cases = 0;
        foreach (var g in Geometries())
        foreach (int group in new[] { 0, 1, 3 })
        {
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var bias = seed % 2 == 0 ? TestRandom.Uniform(g.OC, seed) : null;
            var y = new float[g.N * g.OC * g.OutputPixels];
            TestRandom.Poison(y);
            Winograd3x3.Run(x, w, bias, y, WinogradProblem.Forward(g), false, false, group, width);
            var (expected, scale) = ConvReference.Forward(x, w, bias, g);
            AssertClose(y, expected, scale, $"forward {g} bias={bias is not null} group={group} {width}");
            cases++;
        }
        Assert.True(cases > 100);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Input_gradient_accumulates_onto_dx(VectorWidth width)
    {
        int seed = 700;
        foreach (var g in Geometries())
        foreach (int group in new[] { 0, 2 })
        {
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, seed++);
            var dx0 = TestRandom.Uniform(x.Length, seed++);
            var dx = (float[])dx0.Clone();
            Winograd3x3.Run(dy, w, default, dx, WinogradProblem.InputGradient(g), true, true, group, width);
            var r = ConvReference.Backward(x, w, dy, g);
            var expected = new double[dx.Length];
            var scale = new double[dx.Length];
            for (int i = 0; i < dx.Length; i++) (expected[i], scale[i]) = (dx0[i] + r.Dx[i], r.DxScale[i] + 1);
            AssertClose(dx, expected, scale, $"dx {g} group={group} {width}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Weight_gradient_accumulates_onto_dw_and_dbias(VectorWidth width)
    {
        int seed = 1300, cases = 0;
        foreach (var g in Geometries())
        foreach (int group in new[] { 0, 1, 3 })
        {
            bool masked = (seed & 1) == 0;
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, seed++);
            // Fused ReLU: a random 'ReLU output' whose non-positive entries block dY (about half of them).
            var reluOutput = masked ? TestRandom.Uniform(dy.Length, seed++) : null;
            var (dw0, db0) = (TestRandom.Uniform(g.OC * g.PatchSize, seed++), TestRandom.Uniform(g.OC, seed++));
            var (dw, db) = ((float[])dw0.Clone(), (float[])db0.Clone());
            Winograd3x3.WeightGradient(x, dy, reluOutput, dw, db, WinogradProblem.Forward(g), group, width);
            var effective = (float[])dy.Clone();
            if (reluOutput is not null)
                for (int i = 0; i < effective.Length; i++) if (!(reluOutput[i] > 0)) effective[i] = 0f;
            var r = ConvReference.Backward(x, new float[dw.Length], effective, g);
            AssertClose(dw, Plus(dw0, r.Dw), Plus1(r.DwScale), $"dw {g} group={group} masked={masked} {width}");
            AssertClose(db, Plus(db0, r.DBias), Plus1(r.DBiasScale), $"dBias {g} group={group} masked={masked} {width}");
            cases++;
        }
        Assert.True(cases > 100);
    }

    [Fact]
    public void Weight_gradient_leaves_an_empty_dbias_alone_and_matches_with_and_without_it()
    {
        var g = ConvGeometry.Create(new Shape(3, 5, 7, 9), new Shape(6, 5, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(3 * 5 * 63, 1);
        var dy = TestRandom.Uniform(3 * 6 * 63, 2);
        var (withBias, withoutBias) = (new float[6 * 45], new float[6 * 45]);
        Winograd3x3.WeightGradient(x, dy, default, withBias, new float[6], WinogradProblem.Forward(g));
        Winograd3x3.WeightGradient(x, dy, default, withoutBias, default, WinogradProblem.Forward(g));
        KernelSweep.Exact(withBias, withoutBias, "dw");
    }

    [Fact]
    public void Backward_driver_with_forced_winograd_gives_every_gradient()
    {
        int seed = 900;
        foreach (var g in Geometries())
        {
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, seed++);
            var (dx0, dw0, db0) = (TestRandom.Uniform(x.Length, seed++), TestRandom.Uniform(w.Length, seed++), TestRandom.Uniform(g.OC, seed++));
            var (dx, dw, db) = ((float[])dx0.Clone(), (float[])dw0.Clone(), (float[])db0.Clone());
            Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, g, algorithm: Conv2DAlgorithm.Winograd);
            var r = ConvReference.Backward(x, w, dy, g);
            AssertClose(dx, Plus(dx0, r.Dx), Plus1(r.DxScale), $"dx {g}");
            ConvReference.AssertClose(dw, Plus(dw0, r.Dw), Plus1(r.DwScale), $"dw {g}");
            ConvReference.AssertClose(db, Plus(db0, r.DBias), Plus1(r.DBiasScale), $"dBias {g}");
        }
    }

    // Study shapes (fewer images): Winograd against the im2col driver, forward and dx, through the public drivers.
    [Theory]
    [InlineData(7, 16, 14, 14, 32)]
    [InlineData(3, 32, 32, 32, 32)]
    [InlineData(5, 32, 16, 16, 64)]
    [InlineData(9, 64, 8, 8, 128)]
    public void Study_shapes_match_the_im2col_path(int n, int c, int h, int w, int oc)
    {
        var g = ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(n * c * h * w, 1);
        var wt = TestRandom.Uniform(oc * c * 9, 2);
        var bias = TestRandom.Uniform(oc, 3);
        var dy = TestRandom.Uniform(n * oc * h * w, 4);
        var (yWino, yIm2Col) = (new float[dy.Length], new float[dy.Length]);
        TestRandom.Poison(yWino);
        Conv2DForwardKernel.Run(x, wt, bias, yWino, g, algorithm: Conv2DAlgorithm.Winograd);
        Conv2DForwardKernel.Run(x, wt, bias, yIm2Col, g, algorithm: Conv2DAlgorithm.Im2Col);
        var (dxWino, dxIm2Col) = (new float[x.Length], new float[x.Length]);
        var (dwWino, dwIm2Col) = (new float[wt.Length], new float[wt.Length]);
        var (dbWino, dbIm2Col) = (new float[oc], new float[oc]);
        Conv2DBackwardKernel.RunRelu(x, wt, yIm2Col, dy, dxWino, dwWino, dbWino, g, algorithm: Conv2DAlgorithm.Winograd);
        Conv2DBackwardKernel.RunRelu(x, wt, yIm2Col, dy, dxIm2Col, dwIm2Col, dbIm2Col, g, algorithm: Conv2DAlgorithm.Im2Col);
        // Σ|terms| is about 9·C/4 (forward), 9·OC/4 (dx) or N·H·W/4 (dW, dBias) for values in [−1, 1) (halved again by
        // the ReLU mask in the backward): the same relative bound, on it.
        KernelSweep.Close(yIm2Col, yWino, 0, RelativeTolerance * 9 * c / 4, "y");
        KernelSweep.Close(dxIm2Col, dxWino, 0, RelativeTolerance * 9 * oc / 4, "dx");
        KernelSweep.Close(dwIm2Col, dwWino, 0, RelativeTolerance * n * h * w / 4, "dw");
        KernelSweep.Close(dbIm2Col, dbWino, 0, RelativeTolerance * n * h * w / 4, "dBias");
    }

    [Fact]
    public void Results_are_bitwise_reproducible()
    {
        var g = ConvGeometry.Create(new Shape(37, 17, 9, 11), new Shape(19, 17, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(37 * 17 * 99, 1);
        var w = TestRandom.Uniform(19 * 17 * 9, 2);
        var dy = TestRandom.Uniform(37 * 19 * 99, 3);
        float[]? firstY = null, firstDx = null, firstDw = null, firstDb = null;
        for (int run = 0; run < 3; run++)
        {
            var y = new float[dy.Length];
            var (dx, dw, db) = (new float[x.Length], new float[w.Length], new float[19]);
            Conv2DForwardKernel.Run(x, w, default, y, g, algorithm: Conv2DAlgorithm.Winograd);
            Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, g, algorithm: Conv2DAlgorithm.Winograd);
            if (firstY is null) { (firstY, firstDx, firstDw, firstDb) = (y, dx, dw, db); continue; }
            KernelSweep.Exact(firstY, y, "y");
            KernelSweep.Exact(firstDx!, dx, "dx");
            KernelSweep.Exact(firstDw!, dw, "dw");
            KernelSweep.Exact(firstDb!, db, "dBias");
        }
    }

    [Fact]
    public void Max_error_stays_small()
    {
        // A study layer (C = 64, OC = 128) on values in [−1, 1): the error against the double reference relative to
        // Σ|terms| stays far inside the tolerance (9.5e-8 measured).
        var g = ConvGeometry.Create(new Shape(2, 64, 8, 8), new Shape(128, 64, 3, 3), 1, 1, Padding.Same);
        var x = TestRandom.Uniform(2 * 64 * 64, 5);
        var w = TestRandom.Uniform(128 * 64 * 9, 6);
        var y = new float[2 * 128 * 64];
        Conv2DForwardKernel.Run(x, w, default, y, g, algorithm: Conv2DAlgorithm.Winograd);
        var (expected, scale) = ConvReference.Forward(x, w, null, g);
        double worst = 0;
        for (int i = 0; i < y.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - expected[i]) / scale[i]);
        Assert.True(worst < 1e-6, $"worst relative error {worst:G3}");
    }

    [Fact]
    public void Forced_winograd_falls_back_to_im2col_where_the_geometry_does_not_allow_it()
    {
        foreach (var (k, stride, padding) in new[] { (3, 2, Padding.Same), (5, 1, Padding.Same), (3, 1, Padding.Explicit(3, 1)) })
        {
            var g = ConvGeometry.Create(new Shape(2, 3, 9, 8), new Shape(4, 3, k, k), stride, stride, padding);
            Assert.False(WinogradProblem.Supports(g));
            var x = TestRandom.Uniform(2 * 3 * 72, 1);
            var w = TestRandom.Uniform(4 * 3 * k * k, 2);
            var y = new float[g.N * g.OC * g.OutputPixels];
            TestRandom.Poison(y);
            Conv2DForwardKernel.Run(x, w, default, y, g, algorithm: Conv2DAlgorithm.Winograd);
            var (expected, scale) = ConvReference.Forward(x, w, null, g);
            ConvReference.AssertClose(y, expected, scale, $"forward {g}");
        }
    }

    [Fact]
    public void Auto_rule_and_thread_override()
    {
        var study = ConvGeometry.Create(new Shape(128, 32, 32, 32), new Shape(32, 32, 3, 3), 1, 1, Padding.Same);
        var first = ConvGeometry.Create(new Shape(128, 3, 32, 32), new Shape(32, 3, 3, 3), 1, 1, Padding.Same);
        Assert.False(Conv2DAlgorithms.UseWinograd(first, Conv2DAlgorithm.Auto, false));
        Assert.False(Conv2DAlgorithms.UseWinograd(study, Conv2DAlgorithm.Im2Col, false));
        Assert.True(Conv2DAlgorithms.UseWinograd(first, Conv2DAlgorithm.Winograd, false));
        Assert.True(Conv2DAlgorithms.UseWinograd(study, Conv2DAlgorithm.Auto, false)); // forward and dW
        Assert.True(Conv2DAlgorithms.UseWinograd(study, Conv2DAlgorithm.Auto, true));
        var fmnist2 = ConvGeometry.Create(new Shape(128, 16, 14, 14), new Shape(32, 16, 3, 3), 1, 1, Padding.Same);
        Assert.False(Conv2DAlgorithms.UseWinograd(fmnist2, Conv2DAlgorithm.Auto, false)); // K = 16: too thin
        Assert.False(Conv2DAlgorithms.UseWinograd(fmnist2, Conv2DAlgorithm.Auto, true));  // dx writes 16 channels
        var before = Conv2DAlgorithms.Current;
        using (Conv2DAlgorithms.Force(Conv2DAlgorithm.Im2Col))
        {
            Assert.Equal(Conv2DAlgorithm.Im2Col, Conv2DAlgorithms.Current);
            using (Conv2DAlgorithms.Force(Conv2DAlgorithm.Winograd)) Assert.Equal(Conv2DAlgorithm.Winograd, Conv2DAlgorithms.Current);
            Assert.Equal(Conv2DAlgorithm.Im2Col, Conv2DAlgorithms.Current);
        }
        Assert.Equal(before, Conv2DAlgorithms.Current);
    }

    [Fact]
    public void Rejects_problems_and_spans_it_cannot_compute()
    {
        var g = ConvGeometry.Create(new Shape(2, 3, 5, 5), new Shape(4, 3, 3, 3), 1, 1, Padding.Same);
        var p = WinogradProblem.Forward(g);
        Assert.Throws<ArgumentException>(() => Winograd3x3.Run(new float[149], new float[108], default, new float[200], p, false, false));
        Assert.Throws<ArgumentException>(() => Winograd3x3.Run(new float[150], new float[107], default, new float[200], p, false, false));
        Assert.Throws<ArgumentException>(() => Winograd3x3.Run(new float[150], new float[108], default, new float[199], p, false, false));
        Assert.Throws<ArgumentException>(() => Winograd3x3.Run(new float[150], new float[108], default, new float[200], p with { PadTop = 3 }, false, false));
        Assert.Throws<ArgumentException>(() => Conv2DForwardKernel.Run(new float[149], new float[108], default, new float[200], g, algorithm: Conv2DAlgorithm.Winograd));
        // Weight gradient: x, dy, dw, dBias, ReLU output each one short, and a problem it cannot compute.
        Assert.Throws<ArgumentException>(() => Winograd3x3.WeightGradient(new float[149], new float[200], default, new float[108], new float[4], p));
        Assert.Throws<ArgumentException>(() => Winograd3x3.WeightGradient(new float[150], new float[199], default, new float[108], new float[4], p));
        Assert.Throws<ArgumentException>(() => Winograd3x3.WeightGradient(new float[150], new float[200], default, new float[107], new float[4], p));
        Assert.Throws<ArgumentException>(() => Winograd3x3.WeightGradient(new float[150], new float[200], default, new float[108], new float[3], p));
        Assert.Throws<ArgumentException>(() => Winograd3x3.WeightGradient(new float[150], new float[200], new float[199], new float[108], new float[4], p));
        Assert.Throws<ArgumentException>(() => Winograd3x3.WeightGradient(new float[150], new float[200], default, new float[108], new float[4], p with { PadLeft = -1 }));
    }

    private static void AssertClose(ReadOnlySpan<float> actual, double[] expected, double[] scale, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = RelativeTolerance * scale[i] + 1e-6;
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
                Assert.Fail($"{what}: element {i} is {actual[i]:G9}, expected {expected[i]:G9} (tolerance {tol:G3}).");
        }
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
        for (int i = 0; i < scale.Length; i++) result[i] = scale[i] + 1;
        return result;
    }
}
