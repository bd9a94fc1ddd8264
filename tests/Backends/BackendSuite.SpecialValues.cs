using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Backends;

/// <summary>
/// NaN and ±0 on every op: every backend must give the CPU's result. The semantics (the CPU's, and PyTorch's where it has one):
/// - NaN propagates wherever it enters the arithmetic: matmul/conv outputs whose sum holds it, a pool window, a GAP plane, a
///   softmax row and the mean loss, an optimiser element; ReLU(NaN) = NaN; max-pool's value is NaN when its window holds
///   one, and the gradient goes to the window's FIRST NaN;
/// - ReLU backward and dropout backward: dx + (y &gt; 0 ? dy : +0) — a NaN dy where y ≤ 0 is not routed — and dx + dy·mask
///   (a NaN dy times a dropped 0 is NaN, as in PyTorch);
/// - ±0 bitwise where the op is elementwise: ReLU(−0) = +0 (maximum(−0, +0)), a pool window of zeros gives +0 unless all are −0,
///   accumulating a +0 gradient into −0 gives +0 (dx + G, G starting at +0), −0 + −0 = −0, −0 · s = −0.
/// Reductions (matmul, conv, bias gradient, GAP forward, softmax) are compared within a tolerance, NaN positions exactly.
/// </summary>
public abstract partial class BackendSuite
{
    private static readonly float OtherNaN = BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00123));

    /// <summary>NaN where expected is NaN; the same bits where expected is ±0 (or ±∞); else within atol + rtol·|e|.</summary>
    private static void AssertSpecial(float[] expected, float[] actual, string what, float atol = 0, float rtol = 0, bool zeroSigns = true)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            bool ok = float.IsNaN(e) ? float.IsNaN(a)
                : e == 0f && zeroSigns || float.IsInfinity(e) ? BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(a)
                : Math.Abs(e - a) <= atol + rtol * Math.Abs(e);
            if (!ok)
                Assert.Fail($"{what}: element {i} of {expected.Length}: expected {e:R} (bits {BitConverter.SingleToInt32Bits(e):X8}), " +
                            $"got {a:R} (bits {BitConverter.SingleToInt32Bits(a):X8}).");
        }
    }

    /// <summary>A cycle of NaN, ±0, ±1, ±∞, tiny and ordinary values, shifted by <paramref name="shift"/>.</summary>
    private static float[] SpecialCycle(int n, int shift)
    {
        float[] cycle = [float.NaN, -0f, 0f, 1f, -1f, 0.5f, -0.25f, float.PositiveInfinity, float.NegativeInfinity, 1e-30f, -1e-30f, 3f, -0f, OtherNaN, 2f];
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = cycle[(i + shift) % cycle.Length];
        return values;
    }

    // ---------------------------------------------------------------- ReLU

    [BackendTheory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(37)]
    [InlineData(1031)]
    public void Relu_NaN_and_signed_zeros(int n)
    {
        var x = SpecialCycle(n, 0);
        using var xt = Make(x, new Shape(n));
        using var y = Poisoned(new Shape(n));
        Backend.ReluForward(xt, y);
        var expected = x.Select(v => float.IsNaN(v) ? v : v > 0f ? v : 0f).ToArray(); // −0, −1, −∞ → +0
        AssertSpecial(expected, y.ToArray(), "ReluForward");

        var dy = SpecialCycle(n, 4);
        using var dyt = Make(dy, new Shape(n));
        for (int shift = 0; shift < 15; shift++) // every special dx value meets every y (dy NaN where y ≤ 0, dx = −0 where y ≤ 0, ...)
        {
            var dx = SpecialCycle(n, shift);
            using var dxt = Make(dx, new Shape(n));
            Backend.ReluBackward(y, dyt, dxt);
            AssertSpecial(dx.Select((v, i) => v + (expected[i] > 0f ? dy[i] : 0f)).ToArray(), dxt.ToArray(), $"ReluBackward (accumulating), dx shift {shift}");
        }
    }

    // ---------------------------------------------------------------- bias

    [BackendTheory]
    [InlineData(3, 5, 1)]
    [InlineData(2, 7, 13)]
    public void Bias_NaN_and_signed_zeros(int batch, int channels, int inner)
    {
        var shape = inner == 1 ? new Shape(batch, channels) : new Shape(batch, channels, 1, inner);
        var x = SpecialCycle(shape.Size, 1);
        var bias = SpecialCycle(channels, 2);
        using var xt = Make(x, shape);
        using var bt = Make(bias, new Shape(channels));
        using var yt = Poisoned(shape);
        Backend.AddBias(xt, bt, yt);
        AssertSpecial(x.Select((v, i) => v + bias[i / inner % channels]).ToArray(), yt.ToArray(), "AddBias");

        // The gradient: one NaN in channel 1 makes dBias[1] NaN only; an all-zero channel leaves its ±0 start as dBias + 0.
        var dy = TestRandom.Uniform(shape.Size, 5);
        for (int i = 0; i < dy.Length; i++)
            if (i / inner % channels == 0) dy[i] = (i & 1) == 0 ? -0f : 0f;
        dy[(0 * channels + 1) * inner] = float.NaN;
        var dBias = TestRandom.Uniform(channels, 6);
        dBias[0] = -0f;
        using var dyt = Make(dy, shape);
        using var dbt = Make(dBias, new Shape(channels));
        Backend.BiasGrad(dyt, dbt);
        ScalarReference.BiasGrad(dy, dBias, channels, inner);
        AssertSpecial(dBias, dbt.ToArray(), "BiasGrad", 1e-5f, 1e-5f, zeroSigns: false);
    }

    // ---------------------------------------------------------------- matmul

    [BackendTheory]
    [InlineData(1, 1, 1)]
    [InlineData(17, 13, 29)]
    [InlineData(33, 65, 31)]
    public void MatMul_NaN_reaches_exactly_its_row_and_column(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
            foreach (var (alpha, beta) in new[] { (1f, 0f), (0.5f, 1f) })
            {
                var a = TestRandom.Uniform(m * k, 7);
                var b = TestRandom.Uniform(k * n, 8);
                var c = TestRandom.Uniform(m * n, 9);
                a[(m / 2) * k + k / 3] = float.NaN;   // row m/2 of op(a) when not transposed (an element either way)
                b[(k - 1) * n + n / 2] = float.NaN;   // column n/2 of b
                if (beta == 0f) TestRandom.Poison(c); else c[m * n - 1] = float.NaN;
                for (int i = 0; i < a.Length; i += 5) if (!float.IsNaN(a[i])) a[i] = -0f;
                using var at = Make(a, ta ? new Shape(k, m) : new Shape(m, k));
                using var bt = Make(b, new Shape(k, n));
                using var ct = Make(c, new Shape(m, n));
                Backend.MatMul(at, ta, bt, false, ct, alpha, beta);
                var expected = ScalarReference.MatMul(a, ta, b, false, c, m, n, k, alpha, beta);
                AssertSpecial(expected, ct.ToArray(), $"MatMul {m}x{n}x{k} ta={ta} alpha={alpha} beta={beta}", 1e-5f * (k + 1), 1e-4f, zeroSigns: false);
            }
    }

    // ---------------------------------------------------------------- convolution

    [BackendTheory]
    [MemberData(nameof(ConvCases))]
    public void Conv2D_NaN_reaches_exactly_its_receptive_field(int n, int c, int h, int w, int oc, int kh, int kw, int stride, string padding)
    {
        var g = Geometry(n, c, h, w, oc, kh, kw, stride, padding);
        var x = TestRandom.Uniform(g.InputShape.Size, 121);
        var wt = TestRandom.Uniform(g.WeightShape.Size, 122);
        var dy = TestRandom.Uniform(g.OutputShape.Size, 123);
        x[x.Length / 2] = float.NaN;                  // one input pixel
        for (int i = 0; i < x.Length; i += 4) if (!float.IsNaN(x[i])) x[i] = -0f;
        dy[dy.Length / 3] = float.NaN;                // one output gradient
        using var xt = Make(x, g.InputShape);
        using var wtt = Make(wt, g.WeightShape);
        using var dyt = Make(dy, g.OutputShape);
        using var y = Poisoned(g.OutputShape);
        Backend.Conv2DForward(xt, wtt, null, y, g);
        AssertSpecial(ScalarReference.Conv2D(x, wt, null, g), y.ToArray(), $"Conv2DForward {g}", 1e-5f * g.PatchSize, 1e-4f, zeroSigns: false);

        var dx = TestRandom.Uniform(x.Length, 124);
        var dw = TestRandom.Uniform(wt.Length, 125);
        var db = TestRandom.Uniform(oc, 126);
        using var dxt = Make(dx, g.InputShape);
        using var dwt = Make(dw, g.WeightShape);
        using var dbt = Make(db, new Shape(oc));
        Backend.Conv2DBackward(xt, wtt, dyt, dxt, dwt, dbt, g);
        ScalarReference.Conv2DBackward(x, wt, dy, dx, dw, db, g);
        // Padding is a zero input, and 0·NaN = NaN: a NaN dy[n, oc, ·] reaches every weight of filter oc, padded taps
        // included (the CPU's im2col and Winograd and the GPU all do; the reference skips padded taps).
        for (int i = 0; i < dy.Length; i++)
            if (float.IsNaN(dy[i]))
            {
                int oc0 = i / g.OutputPixels % g.OC;
                Array.Fill(dw, float.NaN, oc0 * g.PatchSize, g.PatchSize);
            }
        float atol = 1e-5f * Math.Max(g.PatchSize, g.N * g.OutputPixels);
        AssertSpecial(dx, dxt.ToArray(), $"Conv2DBackward dx {g}", atol, 1e-4f, zeroSigns: false);
        AssertSpecial(dw, dwt.ToArray(), $"Conv2DBackward dw {g}", atol, 1e-4f, zeroSigns: false);
        AssertSpecial(db, dbt.ToArray(), $"Conv2DBackward dBias {g}", atol, 1e-4f, zeroSigns: false);
    }

    // ---------------------------------------------------------------- pooling

    public static TheoryData<int, int, int, int, int, int> PoolSpecialCases => new()
    {
        // N, C, H, W, window, stride
        { 1, 2, 4, 36, 2, 2 },   // vector blocks and tails on the CPU
        { 2, 3, 7, 9, 2, 2 },    // odd sides: a row and a column under no window
        { 1, 2, 6, 16, 2, 2 },   // 8-wide output
        { 1, 2, 7, 9, 3, 2 },    // overlapping windows
        { 1, 1, 8, 10, 2, 3 },   // gaps between windows
    };

    [BackendTheory]
    [MemberData(nameof(PoolSpecialCases))]
    public void MaxPool2D_NaN_anywhere_in_a_window_and_signed_zeros(int n, int c, int h, int w, int window, int stride)
    {
        var g = PoolGeometry.Create(new Shape(n, c, h, w), window, window, stride, stride);
        var rng = new Random(h * w + window);
        // Ties of ±0, and in about a third of the windows a NaN at a random position (often not the first, sometimes two).
        var x = new float[g.InputShape.Size];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(4) switch { 0 => -0f, 1 => 0f, 2 => -1f, _ => (float)rng.NextDouble() };
        for (int p = 0; p < g.N * g.C; p++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        {
            if (rng.Next(3) != 0) continue;
            int at = p * g.H * g.W + (oh * stride + rng.Next(window)) * g.W + ow * stride + rng.Next(window);
            x[at] = rng.Next(2) == 0 ? float.NaN : OtherNaN;
        }
        // Window 0 entirely −0 and a later window of mixed zeros (not overlapping it): the values must be −0 and +0.
        int mixed = (window + stride - 1) / stride * stride;
        Assert.True(mixed + window <= g.W, "test layout: the two zero windows must fit side by side");
        for (int kh = 0; kh < window; kh++)
            for (int kw = 0; kw < window; kw++)
            {
                x[kh * g.W + kw] = -0f;
                x[kh * g.W + mixed + kw] = (kh + kw) % 2 == 0 ? -0f : 0f;
            }
        using var xt = Make(x, g.InputShape);
        using var y = Poisoned(g.OutputShape);
        Backend.MaxPool2DForward(xt, y, g);
        var expectedY = ScalarReference.MaxPool(x, g);
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(expectedY[0]));
        Assert.Equal(0, BitConverter.SingleToInt32Bits(expectedY[mixed / stride]));
        AssertSpecial(expectedY, y.ToArray(), "MaxPool2DForward");

        // Gradients with ±0 and NaN, into a dx holding ±0: dx + G exactly (G = +0 + Σ routed dy).
        var dy = SpecialCycle(g.OutputShape.Size, 3).Select(v => float.IsInfinity(v) ? 1.5f : v).ToArray();
        var dx = SpecialCycle(x.Length, 6).Select(v => float.IsNaN(v) || float.IsInfinity(v) ? -0f : v).ToArray();
        using var dyt = Make(dy, g.OutputShape);
        using var dxt = Make(dx, g.InputShape);
        Backend.MaxPool2DBackward(xt, dyt, dxt, g, accumulate: true);
        ScalarReference.MaxPoolBackward(x, dy, dx, g);
        AssertSpecial(dx, dxt.ToArray(), "MaxPool2DBackward (accumulating)", 1e-6f, 1e-5f);

        var fresh = new float[x.Length];
        ScalarReference.MaxPoolBackward(x, dy, fresh, g);
        using var freshT = Poisoned(g.InputShape);
        Backend.MaxPool2DBackward(xt, dyt, freshT, g, accumulate: false);
        AssertSpecial(fresh, freshT.ToArray(), "MaxPool2DBackward (overwriting)", 1e-6f, 1e-5f);
    }

    [BackendTheory]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(2, 1)]
    public void MaxPool2D_a_NaN_after_the_first_element_is_not_skipped(int window, int stride)
    {
        // Finite values, and a NaN at the LAST position of window (0, 0) and at the second of window (1, 1): a `v > best`
        // scan alone keeps the finite maximum there.
        var g = PoolGeometry.Create(new Shape(1, 1, 8, 8), window, window, stride, stride);
        var x = TestRandom.Uniform(g.InputShape.Size, 151);
        x[(window - 1) * g.W + window - 1] = float.NaN;
        x[stride * g.W + stride + 1] = float.NaN;
        using var xt = Make(x, g.InputShape);
        using var y = Poisoned(g.OutputShape);
        Backend.MaxPool2DForward(xt, y, g);
        var actual = y.ToArray();
        Assert.True(float.IsNaN(actual[0]), $"window (0, 0) holds a NaN but pooled to {actual[0]}");
        AssertSpecial(ScalarReference.MaxPool(x, g), actual, "MaxPool2DForward");

        var dy = TestRandom.Uniform(g.OutputShape.Size, 152);
        var dx = TestRandom.Uniform(x.Length, 153);
        using var dyt = Make(dy, g.OutputShape);
        using var dxt = Make(dx, g.InputShape);
        Backend.MaxPool2DBackward(xt, dyt, dxt, g, accumulate: true);
        ScalarReference.MaxPoolBackward(x, dy, dx, g);
        AssertSpecial(dx, dxt.ToArray(), "MaxPool2DBackward (accumulating)", 1e-6f, 1e-5f);
    }

    [BackendFact]
    public void GlobalAvgPool_NaN_and_signed_zeros()
    {
        const int n = 2, c = 3, h = 3, w = 5, size = h * w;
        var x = TestRandom.Uniform(n * c * size, 131);
        x[size + 4] = float.NaN; // plane 1
        for (int i = 2 * size; i < 3 * size; i++) x[i] = (i & 1) == 0 ? -0f : 0f; // plane 2: zeros
        using var xt = Make(x, new Shape(n, c, h, w));
        using var y = Poisoned(new Shape(n, c));
        Backend.GlobalAvgPoolForward(xt, y);
        AssertSpecial(ScalarReference.GlobalAvgPool(x, n * c, size), y.ToArray(), "GlobalAvgPoolForward", 1e-6f, 1e-5f, zeroSigns: false);

        var dy = SpecialCycle(n * c, 0).Select(v => float.IsInfinity(v) ? 2f : v).ToArray();
        var dx = SpecialCycle(x.Length, 5);
        using var dyt = Make(dy, new Shape(n, c));
        using var dxt = Make(dx, new Shape(n, c, h, w));
        Backend.GlobalAvgPoolBackward(dyt, dxt);
        AssertSpecial(dx.Select((v, i) => v + dy[i / size] / size).ToArray(), dxt.ToArray(), "GlobalAvgPoolBackward (accumulating)", 1e-6f, 1e-5f);
    }

    // ---------------------------------------------------------------- dropout

    [BackendTheory]
    [InlineData(37, 0.5f)]
    [InlineData(1031, 0.25f)]
    public void Dropout_NaN_and_signed_zeros(int n, float rate)
    {
        const ulong seed = 0xBADC0DEUL;
        var x = SpecialCycle(n, 2);
        using var xt = Make(x, new Shape(n));
        using var y = Poisoned(new Shape(n));
        using var mask = Poisoned(new Shape(n));
        Backend.DropoutForward(xt, y, mask, rate, seed);
        float scale = 1f / (1f - rate);
        var expectedMask = Enumerable.Range(0, n).Select(i => DropoutReference.Keep(seed, i, rate) ? scale : 0f).ToArray();
        AssertSpecial(expectedMask, mask.ToArray(), "Dropout mask");
        // NaN·0 = NaN and ∞·0 = NaN (a dropped NaN stays NaN, as in PyTorch); −1·0 = −0.
        AssertSpecial(x.Select((v, i) => v * expectedMask[i]).ToArray(), y.ToArray(), "Dropout output");

        var dy = SpecialCycle(n, 7);
        using var dyt = Make(dy, new Shape(n));
        for (int shift = 0; shift < 15; shift += 2)
        {
            var dx = SpecialCycle(n, shift);
            using var dxt = Make(dx, new Shape(n));
            Backend.DropoutBackward(dyt, mask, dxt);
            AssertSpecial(dx.Select((v, i) => v + dy[i] * expectedMask[i]).ToArray(), dxt.ToArray(), $"DropoutBackward (accumulating), dx shift {shift}", 1e-6f, 1e-6f);
        }
    }

    // ---------------------------------------------------------------- loss

    [BackendFact]
    public void SoftmaxCrossEntropy_NaN_poisons_its_row_and_the_loss()
    {
        const int rows = 5, classes = 7;
        var logits = TestRandom.Uniform(rows * classes, 141, -4f, 4f);
        logits[2 * classes + 3] = float.NaN; // row 2
        for (int k = 0; k < classes; k++) logits[4 * classes + k] = k % 2 == 0 ? -0f : 0f; // row 4: all zeros
        var labels = new float[] { 0, 6, 3, 1, 2 };
        using var lt = Make(logits, new Shape(rows, classes));
        using var labelT = Make(labels, new Shape(rows));
        using var p = Poisoned(new Shape(rows, classes));
        using var loss = Poisoned(new Shape(1));
        Backend.SoftmaxCrossEntropyForward(lt, labelT, p, loss);
        var (expectedP, expectedLoss) = ScalarReference.SoftmaxCrossEntropy(logits, labels, rows, classes);
        Assert.True(float.IsNaN(expectedLoss));
        AssertSpecial(expectedP, p.ToArray(), "softmax probabilities", 1e-6f, 1e-5f, zeroSigns: false);
        AssertSpecial([expectedLoss], loss.ToArray(), "cross-entropy loss");

        // dLoss = 0: the NaN row stays NaN (0·NaN), every other element is dLogits + (±0), bitwise.
        var probabilities = p.ToArray();
        var dLogits = SpecialCycle(rows * classes, 1).Select(v => float.IsNaN(v) || float.IsInfinity(v) ? -0f : v).ToArray();
        using var dLossT = Make([0f], new Shape(1));
        using var dLogitsT = Make(dLogits, new Shape(rows, classes));
        Backend.SoftmaxCrossEntropyBackward(p, labelT, dLossT, dLogitsT);
        // The CPU's form: s = dLoss / N; dLogits += p·s, then dLogits[label] −= s (so a −0 there becomes +0 − +0 = +0).
        float s = 0f / rows;
        var expected = dLogits.Select((d, i) => d + probabilities[i] * s).ToArray();
        for (int r = 0; r < rows; r++) expected[r * classes + (int)labels[r]] -= s;
        AssertSpecial(expected, dLogitsT.ToArray(), "SoftmaxCrossEntropyBackward (dLoss 0)", 1e-6f, 1e-5f);
    }

    // ---------------------------------------------------------------- optimisers

    [BackendFact]
    public void Adam_and_Sgd_NaN_stays_in_its_element_and_signed_zeros()
    {
        const int n = 37;
        var g = SpecialCycle(n, 0).Select(v => float.IsInfinity(v) ? 0.75f : v).ToArray();
        var p = SpecialCycle(n, 3).Select(v => float.IsNaN(v) || float.IsInfinity(v) ? -0f : v).ToArray();

        var adamP = (float[])p.Clone();
        var m = new float[n];
        var v = new float[n];
        using var pt = Make(adamP, new Shape(n));
        using var gt = Make(g, new Shape(n));
        using var mt = Make(m, new Shape(n));
        using var vt = Make(v, new Shape(n));
        var step = new AdamStep(1e-2f, 0.9f, 0.999f, 1e-7f, 1);
        Backend.AdamUpdate(pt, gt, mt, vt, step);
        ScalarReference.Adam(adamP, g, m, v, step);
        AssertSpecial(adamP, pt.ToArray(), "Adam parameter", 1e-6f, 1e-5f);
        AssertSpecial(m, mt.ToArray(), "Adam m", 1e-6f, 1e-5f);
        AssertSpecial(v, vt.ToArray(), "Adam v", 1e-7f, 1e-5f);

        var sgdP = (float[])p.Clone();
        var velocity = new float[n];
        using var spt = Make(sgdP, new Shape(n));
        using var svt = Make(velocity, new Shape(n));
        Backend.SgdUpdate(spt, gt, svt, 0.05f, 0.9f);
        ScalarReference.Sgd(sgdP, g, velocity, 0.05f, 0.9f);
        AssertSpecial(sgdP, spt.ToArray(), "SGD parameter", 1e-6f, 1e-5f);
        AssertSpecial(velocity, svt.ToArray(), "SGD velocity", 1e-6f, 1e-5f);
    }
}
