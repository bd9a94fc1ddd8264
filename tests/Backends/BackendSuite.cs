using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Backends;

/// <summary>
/// THE kernel suite, run once per backend by a derived class that supplies <see cref="Backend"/> (the SIMD CPU engine,
/// ILGPU's CPU accelerator, CUDA). Every kernel is compared with <see cref="ScalarReference"/> on random data and awkward
/// sizes (1×1, primes, not multiples of any tile or group size); outputs are POISONED with NaN first, so an element a
/// kernel forgets fails; backward kernels start from random gradients, so a kernel that overwrites instead of
/// accumulating fails.
/// </summary>
public abstract partial class BackendSuite
{
    protected abstract IBackend Backend { get; }

    // ---------------------------------------------------------------- helpers

    private Tensor Make(float[] values, Shape shape) => Tensor.FromArray(values, shape, Backend);

    private Tensor Poisoned(Shape shape)
    {
        var values = new float[shape.Size];
        TestRandom.Poison(values);
        return Make(values, shape);
    }

    private static void AssertClose(float[] expected, float[] actual, string what, float atol = 1e-5f, float rtol = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a)) continue;
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}: element {i} of {expected.Length}: expected {e:G9}, got {a:G9} (|diff| {Math.Abs(e - a):G3}).");
        }
    }

    public static TheoryData<int> Lengths => new() { 0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 127, 257, 1031 };

    // ---------------------------------------------------------------- elementwise

    [BackendTheory]
    [MemberData(nameof(Lengths))]
    public void Fill_copy_axpy(int n)
    {
        using var t = Poisoned(new Shape(n));
        Backend.Fill(t, 2.5f);
        AssertClose(Enumerable.Repeat(2.5f, n).ToArray(), t.ToArray(), "Fill", 0, 0);

        var x = TestRandom.Uniform(n, n + 1);
        var y = TestRandom.Uniform(n, n + 2);
        using var xt = Make(x, new Shape(n));
        using var copy = Poisoned(new Shape(n));
        Backend.Copy(xt, copy);
        AssertClose(x, copy.ToArray(), "Copy", 0, 0);

        using var yt = Make(y, new Shape(n));
        Backend.Axpy(-0.75f, xt, yt);
        AssertClose(y.Select((v, i) => v + -0.75f * x[i]).ToArray(), yt.ToArray(), "Axpy", 1e-6f, 1e-6f);
    }

    // ---------------------------------------------------------------- GEMM

    public static TheoryData<int, int, int> GemmSizes => new()
    {
        { 1, 1, 1 }, { 1, 7, 3 }, { 5, 1, 9 }, { 2, 3, 1 }, { 4, 4, 0 }, { 17, 13, 29 }, { 16, 16, 16 }, { 33, 65, 31 }, { 64, 3, 70 },
    };

    [BackendTheory]
    [MemberData(nameof(GemmSizes))]
    public void MatMul_all_transposes_alpha_beta(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (var (alpha, beta) in new[] { (1f, 0f), (1.5f, 0.5f), (-1f, 1f) })
                {
                    var a = TestRandom.Uniform(m * k, m + 3 * k);
                    var b = TestRandom.Uniform(k * n, n + 5 * k);
                    var c = TestRandom.Uniform(m * n, m * n + 1);
                    if (beta == 0f) TestRandom.Poison(c); // beta = 0 must not read C, not even NaN
                    using var at = Make(a, ta ? new Shape(k, m) : new Shape(m, k));
                    using var bt = Make(b, tb ? new Shape(n, k) : new Shape(k, n));
                    using var ct = Make(c, new Shape(m, n));
                    Backend.MatMul(at, ta, bt, tb, ct, alpha, beta);
                    var expected = ScalarReference.MatMul(a, ta, b, tb, c, m, n, k, alpha, beta);
                    AssertClose(expected, ct.ToArray(), $"MatMul {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta}", 1e-5f * (k + 1), 1e-4f);
                }
    }

    // ---------------------------------------------------------------- bias

    [BackendTheory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 7, 1)]   // (N, F) matrix
    [InlineData(3, 4, 13)]  // (N, C, H·W) images
    [InlineData(2, 33, 9)]
    public void AddBias_and_BiasGrad(int batch, int channels, int inner)
    {
        var shape = inner == 1 ? new Shape(batch, channels) : new Shape(batch, channels, 1, inner);
        var x = TestRandom.Uniform(shape.Size, 11);
        var bias = TestRandom.Uniform(channels, 12);
        using var xt = Make(x, shape);
        using var bt = Make(bias, new Shape(channels));
        using var yt = Poisoned(shape);
        Backend.AddBias(xt, bt, yt);
        AssertClose(ScalarReference.AddBias(x, bias, channels, inner), yt.ToArray(), "AddBias", 0, 0);
        Backend.AddBias(xt, bt, xt); // in place
        AssertClose(ScalarReference.AddBias(x, bias, channels, inner), xt.ToArray(), "AddBias in place", 0, 0);

        var dy = TestRandom.Uniform(shape.Size, 13);
        var dBias = TestRandom.Uniform(channels, 14);
        using var dyt = Make(dy, shape);
        using var dbt = Make(dBias, new Shape(channels));
        Backend.BiasGrad(dyt, dbt);
        ScalarReference.BiasGrad(dy, dBias, channels, inner);
        AssertClose(dBias, dbt.ToArray(), "BiasGrad (accumulating)", 1e-5f, 1e-5f);
    }

    // ---------------------------------------------------------------- convolution

    public static TheoryData<int, int, int, int, int, int, int, int, string> ConvCases => new()
    {
        // N, C, H, W, OC, KH, KW, stride, padding
        { 1, 1, 1, 1, 1, 1, 1, 1, "valid" },
        { 2, 3, 7, 5, 4, 3, 3, 1, "same" },
        { 2, 2, 9, 8, 3, 3, 2, 2, "explicit" },
        { 3, 4, 5, 5, 5, 1, 1, 1, "valid" },   // pointwise: no im2col
        { 1, 3, 11, 13, 2, 5, 5, 3, "same" },
        { 2, 1, 6, 6, 7, 2, 2, 2, "valid" },
    };

    private static ConvGeometry Geometry(int n, int c, int h, int w, int oc, int kh, int kw, int stride, string padding) =>
        ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, kh, kw), stride, stride,
            padding switch { "same" => Padding.Same, "explicit" => Padding.Explicit(1, 0), _ => Padding.Valid });

    [BackendTheory]
    [MemberData(nameof(ConvCases))]
    public void Conv2DForward(int n, int c, int h, int w, int oc, int kh, int kw, int stride, string padding)
    {
        var g = Geometry(n, c, h, w, oc, kh, kw, stride, padding);
        var x = TestRandom.Uniform(g.InputShape.Size, 21);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 22);
        var bias = TestRandom.Uniform(oc, 23);
        using var xt = Make(x, g.InputShape);
        using var wtt = Make(wt, g.WeightShape);
        using var bt = Make(bias, new Shape(oc));
        foreach (bool withBias in new[] { false, true })
        {
            using var y = Poisoned(g.OutputShape);
            Backend.Conv2DForward(xt, wtt, withBias ? bt : null, y, g);
            AssertClose(ScalarReference.Conv2D(x, wt, withBias ? bias : null, g), y.ToArray(), $"Conv2DForward bias={withBias} {g}", 1e-5f * g.PatchSize, 1e-4f);
        }
    }

    [BackendTheory]
    [MemberData(nameof(ConvCases))]
    public void Conv2DBackward(int n, int c, int h, int w, int oc, int kh, int kw, int stride, string padding)
    {
        var g = Geometry(n, c, h, w, oc, kh, kw, stride, padding);
        var x = TestRandom.Uniform(g.InputShape.Size, 31);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 32);
        var dy = TestRandom.Uniform(g.OutputShape.Size, 33);
        using var xt = Make(x, g.InputShape);
        using var wtt = Make(wt, g.WeightShape);
        using var dyt = Make(dy, g.OutputShape);

        // All three gradients, accumulating onto random starting values.
        var dx = TestRandom.Uniform(x.Length, 34);
        var dw = TestRandom.Uniform(wt.Length, 35);
        var db = TestRandom.Uniform(oc, 36);
        using var dxt = Make(dx, g.InputShape);
        using var dwt = Make(dw, g.WeightShape);
        using var dbt = Make(db, new Shape(oc));
        Backend.Conv2DBackward(xt, wtt, dyt, dxt, dwt, dbt, g);
        ScalarReference.Conv2DBackward(x, wt, dy, dx, dw, db, g);
        float atol = 1e-5f * Math.Max(g.PatchSize, g.N * g.OutputPixels);
        AssertClose(dx, dxt.ToArray(), $"Conv2DBackward dx {g}", atol, 1e-4f);
        AssertClose(dw, dwt.ToArray(), $"Conv2DBackward dw {g}", atol, 1e-4f);
        AssertClose(db, dbt.ToArray(), $"Conv2DBackward dBias {g}", atol, 1e-4f);

        // Only dx (the first layer's weights still need dw; a frozen layer only dx): the null targets are skipped.
        var dxOnly = TestRandom.Uniform(x.Length, 37);
        using var dxOnlyT = Make(dxOnly, g.InputShape);
        Backend.Conv2DBackward(xt, wtt, dyt, dxOnlyT, null, null, g);
        ScalarReference.Conv2DBackward(x, wt, dy, dxOnly, null, null, g);
        AssertClose(dxOnly, dxOnlyT.ToArray(), $"Conv2DBackward dx only {g}", atol, 1e-4f);

        // A fresh dx (accumulateDx: false) is overwritten: none of its old contents (NaN) may survive.
        var dxFresh = new float[x.Length];
        ScalarReference.Conv2DBackward(x, wt, dy, dxFresh, null, null, g);
        using var dxFreshT = Poisoned(g.InputShape);
        Backend.Conv2DBackward(xt, wtt, dyt, dxFreshT, null, null, g, accumulateDx: false);
        AssertClose(dxFresh, dxFreshT.ToArray(), $"Conv2DBackward dx overwritten {g}", atol, 1e-4f);
    }

    // ---------------------------------------------------------------- pooling

    public static TheoryData<int, int, int, int, int, int, bool> PoolCases => new()
    {
        // N, C, H, W, window, stride, ties
        { 1, 1, 2, 2, 2, 2, false },
        { 2, 3, 7, 7, 2, 2, false },   // odd size: last row/column dropped
        { 1, 2, 5, 6, 3, 1, false },   // overlapping windows
        { 2, 2, 6, 5, 2, 2, true },    // many ties: the FIRST maximum takes the gradient
        { 1, 1, 7, 7, 3, 2, true },    // ties and overlap
    };

    [BackendTheory]
    [MemberData(nameof(PoolCases))]
    public void MaxPool2D_forward_and_backward(int n, int c, int h, int w, int window, int stride, bool ties)
    {
        var g = PoolGeometry.Create(new Shape(n, c, h, w), window, window, stride, stride);
        var x = ties
            ? TestRandom.Uniform(g.InputShape.Size, 41).Select(v => MathF.Round(v)).ToArray() // values in {-1, 0, 1}
            : TestRandom.Uniform(g.InputShape.Size, 41);
        using var xt = Make(x, g.InputShape);
        using var y = Poisoned(g.OutputShape);
        Backend.MaxPool2DForward(xt, y, g);
        AssertClose(ScalarReference.MaxPool(x, g), y.ToArray(), "MaxPool2DForward", 0, 0);

        var dy = TestRandom.Uniform(g.OutputShape.Size, 42);
        var dx = TestRandom.Uniform(x.Length, 43);
        using var dyt = Make(dy, g.OutputShape);
        using var dxt = Make(dx, g.InputShape);
        Backend.MaxPool2DBackward(xt, dyt, dxt, g, accumulate: true);
        ScalarReference.MaxPoolBackward(x, dy, dx, g);
        AssertClose(dx, dxt.ToArray(), "MaxPool2DBackward (accumulating)", 1e-6f, 1e-5f);

        // Overwriting a fresh gradient: whatever dx held (NaN here) must not show, including under no window at all.
        var expected = new float[x.Length];
        ScalarReference.MaxPoolBackward(x, dy, expected, g);
        using var fresh = Poisoned(g.InputShape);
        Backend.MaxPool2DBackward(xt, dyt, fresh, g, accumulate: false);
        AssertClose(expected, fresh.ToArray(), "MaxPool2DBackward (overwriting)", 0, 0);
    }

    [BackendTheory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 5, 7)]
    [InlineData(3, 17, 4, 4)]
    public void GlobalAvgPool_forward_and_backward(int n, int c, int h, int w)
    {
        var x = TestRandom.Uniform(n * c * h * w, 51);
        using var xt = Make(x, new Shape(n, c, h, w));
        using var y = Poisoned(new Shape(n, c));
        Backend.GlobalAvgPoolForward(xt, y);
        AssertClose(ScalarReference.GlobalAvgPool(x, n * c, h * w), y.ToArray(), "GlobalAvgPoolForward", 1e-6f, 1e-5f);

        var dy = TestRandom.Uniform(n * c, 52);
        var dx = TestRandom.Uniform(x.Length, 53);
        using var dyt = Make(dy, new Shape(n, c));
        using var dxt = Make(dx, new Shape(n, c, h, w));
        Backend.GlobalAvgPoolBackward(dyt, dxt);
        ScalarReference.GlobalAvgPoolBackward(dy, dx, h * w);
        AssertClose(dx, dxt.ToArray(), "GlobalAvgPoolBackward (accumulating)", 1e-6f, 1e-5f);
    }

    // ---------------------------------------------------------------- activations

    [BackendTheory]
    [MemberData(nameof(Lengths))]
    public void Relu_forward_and_backward(int n)
    {
        var x = TestRandom.Uniform(n, 61);
        if (n > 2) { x[0] = 0f; x[1] = float.NaN; }
        using var xt = Make(x, new Shape(n));
        using var y = Poisoned(new Shape(n));
        Backend.ReluForward(xt, y);
        var expected = x.Select(v => float.IsNaN(v) ? v : Math.Max(v, 0f)).ToArray();
        AssertClose(expected, y.ToArray(), "ReluForward", 0, 0);

        var dy = TestRandom.Uniform(n, 62);
        var dx = TestRandom.Uniform(n, 63);
        using var dyt = Make(dy, new Shape(n));
        using var dxt = Make(dx, new Shape(n));
        Backend.ReluBackward(y, dyt, dxt);
        AssertClose(dx.Select((v, i) => expected[i] > 0 ? v + dy[i] : v).ToArray(), dxt.ToArray(), "ReluBackward (accumulating)", 0, 0);
    }

    [BackendTheory]
    [InlineData(1, 0.5f)]
    [InlineData(257, 0.25f)]
    [InlineData(4099, 0.5f)]
    public void Dropout_mask_is_the_shared_counter_hash(int n, float rate)
    {
        const ulong seed = 0xC0FFEEUL;
        var x = TestRandom.Uniform(n, 71);
        using var xt = Make(x, new Shape(n));
        using var y = Poisoned(new Shape(n));
        using var mask = Poisoned(new Shape(n));
        Backend.DropoutForward(xt, y, mask, rate, seed);
        float scale = 1f / (1f - rate);
        var expectedMask = Enumerable.Range(0, n).Select(i => DropoutReference.Keep(seed, i, rate) ? scale : 0f).ToArray();
        AssertClose(expectedMask, mask.ToArray(), "Dropout mask", 0, 0);
        AssertClose(x.Select((v, i) => v * expectedMask[i]).ToArray(), y.ToArray(), "Dropout output", 0, 0);
        if (n > 1000)
        {
            double dropped = expectedMask.Count(m => m == 0f) / (double)n;
            Assert.InRange(dropped, rate - 0.05, rate + 0.05);
        }

        var dy = TestRandom.Uniform(n, 72);
        var dx = TestRandom.Uniform(n, 73);
        using var dyt = Make(dy, new Shape(n));
        using var dxt = Make(dx, new Shape(n));
        Backend.DropoutBackward(dyt, mask, dxt);
        AssertClose(dx.Select((v, i) => v + dy[i] * expectedMask[i]).ToArray(), dxt.ToArray(), "DropoutBackward (accumulating)", 1e-6f, 1e-6f);
    }

    // ---------------------------------------------------------------- loss

    [BackendTheory]
    [InlineData(1, 1)]
    [InlineData(3, 10)]
    [InlineData(17, 7)]
    [InlineData(40, 10)]
    public void SoftmaxCrossEntropy_forward_and_backward(int rows, int classes)
    {
        var logits = TestRandom.Uniform(rows * classes, 81, -8f, 8f);
        var rng = new Random(82);
        var labels = Enumerable.Range(0, rows).Select(_ => (float)rng.Next(classes)).ToArray();
        using var lt = Make(logits, new Shape(rows, classes));
        using var labelT = Make(labels, new Shape(rows));
        using var p = Poisoned(new Shape(rows, classes));
        using var loss = Poisoned(new Shape(1));
        Backend.SoftmaxCrossEntropyForward(lt, labelT, p, loss);
        var (expectedP, expectedLoss) = ScalarReference.SoftmaxCrossEntropy(logits, labels, rows, classes);
        AssertClose(expectedP, p.ToArray(), "softmax probabilities", 1e-6f, 1e-5f);
        AssertClose([expectedLoss], loss.ToArray(), "cross-entropy loss", 1e-5f, 1e-5f);

        var dLogits = TestRandom.Uniform(rows * classes, 83);
        using var dLossT = Make([0.7f], new Shape(1));
        using var dLogitsT = Make(dLogits, new Shape(rows, classes));
        Backend.SoftmaxCrossEntropyBackward(p, labelT, dLossT, dLogitsT);
        ScalarReference.SoftmaxCrossEntropyBackward(p.ToArray(), labels, 0.7f, dLogits, rows, classes);
        AssertClose(dLogits, dLogitsT.ToArray(), "SoftmaxCrossEntropyBackward (accumulating)", 1e-6f, 1e-5f);
    }

    // ---------------------------------------------------------------- optimisers

    [BackendTheory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(1031)]
    public void Adam_three_steps(int n)
    {
        var p = TestRandom.Uniform(n, 91);
        var m = new float[n];
        var v = new float[n];
        using var pt = Make(p, new Shape(n));
        using var mt = Make(m, new Shape(n));
        using var vt = Make(v, new Shape(n));
        for (int t = 1; t <= 3; t++)
        {
            var g = TestRandom.Uniform(n, 91 + t);
            using var gt = Make(g, new Shape(n));
            var step = new AdamStep(1e-2f, 0.9f, 0.999f, 1e-7f, t);
            Backend.AdamUpdate(pt, gt, mt, vt, step);
            ScalarReference.Adam(p, g, m, v, step);
        }
        AssertClose(p, pt.ToArray(), "Adam parameter", 1e-6f, 1e-5f);
        AssertClose(m, mt.ToArray(), "Adam m", 1e-6f, 1e-5f);
        AssertClose(v, vt.ToArray(), "Adam v", 1e-7f, 1e-5f);
    }

    [BackendTheory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(1031)]
    public void Sgd_momentum_three_steps(int n)
    {
        var p = TestRandom.Uniform(n, 101);
        var velocity = new float[n];
        using var pt = Make(p, new Shape(n));
        using var vt = Make(velocity, new Shape(n));
        for (int t = 1; t <= 3; t++)
        {
            var g = TestRandom.Uniform(n, 101 + t);
            using var gt = Make(g, new Shape(n));
            Backend.SgdUpdate(pt, gt, vt, 0.05f, 0.9f);
            ScalarReference.Sgd(p, g, velocity, 0.05f, 0.9f);
        }
        AssertClose(p, pt.ToArray(), "SGD parameter", 1e-6f, 1e-5f);
        AssertClose(velocity, vt.ToArray(), "SGD velocity", 1e-6f, 1e-5f);
    }
}
