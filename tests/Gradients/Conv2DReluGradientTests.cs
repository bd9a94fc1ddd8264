using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

/// <summary>
/// Op.Conv2DRelu (the fused Conv2D + ReLU) by central differences. ReLU has a kink at 0, so the data are drawn until every
/// pre-activation is at least <see cref="KinkFreeConvData.Margin"/> from it (see <see cref="KinkFreeConvData"/>); values AT
/// zero (and NaN, −0) are covered bitwise against the unfused ops in tests/Kernels/Conv2DReluFusionTests.
/// </summary>
public class Conv2DReluGradientTests
{
    public static TheoryData<int, int, int, int, int, int, int, string> Cases => new()
    {
        // N, C, H, W, OC, K, stride, padding
        { 2, 3, 5, 7, 4, 3, 1, "same" },
        { 3, 5, 7, 6, 2, 3, 2, "same" },
        { 2, 3, 9, 8, 3, 5, 1, "valid" },
        { 2, 17, 4, 5, 3, 1, 1, "valid" },   // pointwise: no im2col
        { 2, 2, 6, 7, 5, 1, 2, "same" },
        { 2, 3, 7, 7, 2, 5, 2, "same" },
        { 3, 2, 8, 5, 3, 3, 2, "valid" },
        { 2, 3, 3, 4, 2, 3, 1, "explicit" },
    };

    internal static Padding ParsePadding(string padding) =>
        padding switch { "same" => Padding.Same, "valid" => Padding.Valid, _ => Padding.Explicit(2, 1) };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Conv2DRelu_gradients_wrt_input_weights_and_bias(int n, int c, int h, int w, int oc, int k, int stride, string padding)
    {
        var pad = ParsePadding(padding);
        using var force = Conv2DAlgorithms.Force(Conv2DAlgorithm.Im2Col);
        Check(new Shape(n, c, h, w), new Shape(oc, c, k, k), stride, pad, seed: n + c + h + k);
    }

    [Theory]
    [InlineData(2, 3, 5, 7, 4, "same")]
    [InlineData(3, 2, 6, 5, 3, "valid")]
    [InlineData(2, 3, 3, 4, 2, "explicit")]
    [InlineData(2, 5, 1, 2, 3, "same")] // image smaller than a tile
    public void Conv2DRelu_gradients_on_the_forced_winograd_path(int n, int c, int h, int w, int oc, string padding)
    {
        var pad = ParsePadding(padding);
        var g = ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, 3, 3), 1, 1, pad);
        Assert.True(WinogradProblem.Supports(g));
        using var force = Conv2DAlgorithms.Force(Conv2DAlgorithm.Winograd);
        Check(new Shape(n, c, h, w), new Shape(oc, c, 3, 3), 1, pad, seed: n + c + h);
    }

    [Fact]
    public void Conv2DRelu_gradients_on_a_layer_auto_sends_to_winograd()
    {
        // 32 → 32 channels, 3×3 same: the Auto rule picks Winograd for both the forward and dx.
        var g = ConvGeometry.Create(new Shape(2, 32, 4, 4), new Shape(32, 32, 3, 3), 1, 1, Padding.Same);
        Assert.True(Conv2DAlgorithms.UseWinograd(g, Conv2DAlgorithm.Auto, inputGradient: false));
        Assert.True(Conv2DAlgorithms.UseWinograd(g, Conv2DAlgorithm.Auto, inputGradient: true));
        using var force = Conv2DAlgorithms.Force(Conv2DAlgorithm.Auto);
        Check(new Shape(2, 32, 4, 4), new Shape(32, 32, 3, 3), 1, Padding.Same, seed: 7);
    }

    [Fact]
    public void Conv2DRelu_without_bias_and_with_a_frozen_input()
    {
        var (xv, wv, _) = KinkFreeConvData.Draw(new Shape(2, 3, 6, 5), new Shape(4, 3, 3, 3), 1, Padding.Same, seed: 11, withBias: false);
        using var x = GradCheck.Input("x", xv, new Shape(2, 3, 6, 5));
        using var wt = GradCheck.Input("w", wv, new Shape(4, 3, 3, 3));
        GradCheck.Assert(t => Op.Conv2DRelu(t[0], t[1], null, 1, Padding.Same), x, wt);

        // A first layer: only the weights learn, no gradient is made for the input.
        x.RequiresGrad = false;
        GradCheck.Assert(t => Op.Conv2DRelu(t[0], t[1], null, 1, Padding.Same), x, wt);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Bad_input_is_rejected_at_the_door_naming_the_fused_op()
    {
        using var x = Tensor.Zeros(new Shape(2, 3, 8, 8));
        using var w = Tensor.Zeros(new Shape(4, 5, 3, 3));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2DRelu(x, w, null, 1, Padding.Same));
        Assert.Contains("Conv2DRelu", ex.Message);
        using var w2 = Tensor.Zeros(new Shape(4, 3, 3, 3));
        using var bias = Tensor.Zeros(new Shape(5));
        ex = Assert.Throws<ArgumentException>(() => Op.Conv2DRelu(x, w2, bias, 1, Padding.Same));
        Assert.Contains("Conv2DRelu", ex.Message);
        Assert.Contains("(5)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Op.Conv2DRelu(x, w2, null, 0, Padding.Same));
        Assert.Contains("stride", ex.Message);
    }

    private static void Check(Shape xs, Shape ws, int stride, Padding pad, int seed)
    {
        var (xv, wv, bv) = KinkFreeConvData.Draw(xs, ws, stride, pad, seed);
        using var x = GradCheck.Input("x", xv, xs);
        using var wt = GradCheck.Input("w", wv, ws);
        using var b = GradCheck.Input("bias", bv, new Shape(ws[0]));
        GradCheck.Assert(t => Op.Conv2DRelu(t[0], t[1], t[2], stride, pad), x, wt, b);
    }
}

/// <summary>
/// Convolution data whose pre-activations z = conv(x, w) + b all keep |z| ≥ <see cref="Margin"/>: a central-difference step
/// h = 1e-2 of one input moves each z by at most h (every x, w in [−1, 1]; a bias moves its z by exactly h), so it never
/// crosses ReLU's kink and the numerical derivative is exact. Seeds are tried in a fixed order: deterministic.
/// </summary>
public static class KinkFreeConvData
{
    public const float Margin = 0.015f;

    public static (float[] X, float[] W, float[] B) Draw(Shape xs, Shape ws, int stride, Padding pad, int seed, bool withBias = true)
    {
        for (int attempt = 0; attempt < 2000; attempt++)
        {
            int s = seed + 7919 * attempt;
            var x = TestRandom.Uniform(xs.Size, s);
            var w = TestRandom.Uniform(ws.Size, s + 1);
            var b = withBias ? TestRandom.Uniform(ws[0], s + 2) : new float[ws[0]];
            if (MinAbsPreActivation(x, w, b, xs, ws, stride, pad) >= Margin) return (x, w, b);
        }
        throw new InvalidOperationException($"No kink-free data found for x {xs}, w {ws}: use fewer outputs.");
    }

    private static float MinAbsPreActivation(float[] x, float[] w, float[] b, Shape xs, Shape ws, int stride, Padding pad)
    {
        using var tx = Tensor.FromArray(x, xs);
        using var tw = Tensor.FromArray(w, ws);
        using var tb = Tensor.FromArray(b, new Shape(ws[0]));
        float min = float.PositiveInfinity;
        var tape = Tape.Current;
        using (Tape.NoGrad())
        {
            foreach (var z in Op.Conv2D(tx, tw, tb, stride, pad).ToArray()) min = Math.Min(min, Math.Abs(z));
        }
        tape.Reset();
        return min;
    }
}
