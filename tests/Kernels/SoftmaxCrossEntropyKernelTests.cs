using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class SoftmaxCrossEntropyKernelTests
{
    private static float[] Labels(int batch, int classes, int seed)
    {
        var rng = new Random(seed);
        var labels = new float[batch];
        for (int n = 0; n < batch; n++) labels[n] = rng.Next(classes);
        return labels;
    }

    private static void Check(float[] logits, float[] labels, int batch, int classes, string context)
    {
        var (expectedP, expectedLoss) = ScalarReference.SoftmaxCrossEntropyExact(logits, labels, batch, classes);
        var p = KernelSweep.Poisoned(logits.Length);
        double loss = SoftmaxCrossEntropy.Forward(logits, labels, p, batch, classes);
        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-5 * Math.Max(1, Math.Abs(expectedLoss)), $"{context}: loss {loss}, expected {expectedLoss}");
        KernelSweep.Close(expectedP, p, 1e-5, 1e-7, context + " probabilities");

        const float dLoss = 0.75f;
        var dLogits = TestRandom.Uniform(logits.Length, batch + classes); // accumulates
        var expectedGrad = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++)
        {
            int n = i / classes, k = i % classes;
            expectedGrad[i] = dLogits[i] + dLoss * (expectedP[i] - (k == (int)labels[n] ? 1 : 0)) / batch;
        }
        SoftmaxCrossEntropy.Backward(p, labels, dLoss, dLogits, batch, classes);
        KernelSweep.Close(expectedGrad, dLogits, 1e-5, 1e-6, context + " gradient");
    }

    [Fact]
    public void Matches_double_reference_for_every_class_count()
    {
        foreach (int classes in KernelSweep.Lengths)
        {
            if (classes == 0) continue;
            const int batch = 3;
            Check(TestRandom.Uniform(batch * classes, classes, -5f, 5f), Labels(batch, classes, classes), batch, classes, $"K = {classes}");
        }
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(128, 10)]
    [InlineData(7, 1)]     // one class: p = 1, loss 0, gradient 0
    [InlineData(33, 100)]
    public void Matches_double_reference_for_batches(int batch, int classes) =>
        Check(TestRandom.Uniform(batch * classes, 9, -8f, 8f), Labels(batch, classes, 10), batch, classes, $"({batch}, {classes})");

    [Fact]
    public void Is_stable_for_huge_logits()
    {
        // Naive exp(1000) overflows to ∞ and gives NaN; the shifted form gives the exact answer.
        float[] logits = [1000f, -1000f, 999f, -1000f, 1000f, 0f, 88f, 89f, -1000f];
        float[] labels = [0, 0, 2];
        Check(logits, labels, 3, 3, "±1000");
        var p = new float[logits.Length];
        double loss = SoftmaxCrossEntropy.Forward(logits, labels, p, 3, 3);
        // Row 0: log(1 + e⁻¹ + e⁻²⁰⁰⁰) ≈ 0.31326; row 1: 2000 + log(1 + e⁻¹⁰⁰⁰) = 2000; row 2: log(e⁸⁸+e⁸⁹+e⁻¹⁰⁰⁰) − (−1000 − 89) ≈ 1089.31326.
        double expected = (Math.Log(1 + Math.Exp(-1)) + 2000 + 1089 + Math.Log(1 + Math.Exp(-1))) / 3;
        Assert.Equal(expected, loss, 1e-4);
        foreach (float v in p) Assert.True(float.IsFinite(v));
    }

    [Fact]
    public void NaN_logit_gives_NaN_loss()
    {
        float[] logits = [1f, float.NaN, 0f];
        var p = new float[3];
        Assert.True(double.IsNaN(SoftmaxCrossEntropy.Forward(logits, [0f], p, 1, 3)));
    }

    /// <summary>
    /// Softmax-CE stays on TensorPrimitives per row (Max, Subtract, Exp, Multiply, MultiplyAdd). ±0: −0 and +0 logits are the
    /// same logit (uniform probabilities, loss log K); a NaN logit makes its row's probabilities NaN, other rows untouched.
    /// </summary>
    [Fact]
    public void Signed_zero_logits_are_equal_and_NaN_stays_in_its_row()
    {
        float[] logits = [-0f, 0f, -0f, 0f, 0f, 0f, 0f, 0f, 1f, float.NaN, 2f, 3f];
        var p = new float[12];
        double loss = SoftmaxCrossEntropy.Forward(logits.AsSpan(0, 8), [1f, 0f], p.AsSpan(0, 8), 2, 4);
        Assert.Equal(Math.Log(4), loss, 1e-6);
        for (int i = 0; i < 8; i++) Assert.Equal(0.25f, p[i]);

        Assert.True(double.IsNaN(SoftmaxCrossEntropy.Forward(logits, [1f, 0f, 3f], p, 3, 4)));
        for (int i = 0; i < 8; i++) Assert.Equal(0.25f, p[i]);
        for (int i = 8; i < 12; i++) Assert.True(float.IsNaN(p[i]));
    }
}
