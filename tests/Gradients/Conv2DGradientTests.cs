using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

public class Conv2DGradientTests
{
    public static TheoryData<int, int, int, int, int, int, int, string> Cases => new()
    {
        // N, C, H, W, OC, K, stride, padding
        { 2, 3, 5, 7, 4, 3, 1, "same" },
        { 3, 5, 7, 6, 2, 3, 2, "same" },
        { 2, 3, 9, 8, 3, 5, 1, "valid" },
        { 2, 17, 4, 5, 3, 1, 1, "valid" },
        { 2, 2, 6, 7, 17, 1, 2, "same" },
        { 2, 3, 7, 7, 2, 5, 2, "same" },
        { 3, 2, 8, 5, 3, 3, 2, "valid" },
        { 2, 3, 3, 4, 2, 3, 1, "explicit" },
        { 2, 3, 2, 3, 2, 5, 1, "same" },     // image smaller than the kernel: most taps fall on padding
        { 2, 2, 3, 3, 3, 5, 2, "explicit" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Conv2D_gradients_wrt_input_weights_and_bias(int n, int c, int h, int w, int oc, int k, int stride, string padding)
    {
        var pad = padding switch { "same" => Padding.Same, "valid" => Padding.Valid, _ => Padding.Explicit(2, 1) };
        using var x = GradCheck.Input("x", TestRandom.Uniform(n * c * h * w, n + c + h), new Shape(n, c, h, w));
        using var wt = GradCheck.Input("w", TestRandom.Uniform(oc * c * k * k, oc + k), new Shape(oc, c, k, k));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(oc, 3), new Shape(oc));
        GradCheck.Assert(t => Op.Conv2D(t[0], t[1], t[2], stride, pad), x, wt, b);
    }

    [Fact]
    public void Conv2D_without_bias_and_with_frozen_inputs()
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(2 * 3 * 6 * 5, 1), new Shape(2, 3, 6, 5));
        using var wt = GradCheck.Input("w", TestRandom.Uniform(4 * 3 * 9, 2), new Shape(4, 3, 3, 3));
        GradCheck.Assert(t => Op.Conv2D(t[0], t[1], null, 1, Padding.Same), x, wt);

        // Only the weights learn (a first layer): no gradient is made for the input.
        x.RequiresGrad = false;
        GradCheck.Assert(t => Op.Conv2D(t[0], t[1], null, 2, 1, Padding.Same), x, wt);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Conv2D_chained_through_relu_accumulates_into_a_reused_input()
    {
        // x feeds two convolutions: its gradient must be the sum of both paths.
        using var x = GradCheck.Input("x", TestRandom.Uniform(2 * 2 * 5 * 5, 4), new Shape(2, 2, 5, 5));
        using var w1 = GradCheck.Input("w1", TestRandom.Uniform(3 * 2 * 9, 5), new Shape(3, 2, 3, 3));
        using var w2 = GradCheck.Input("w2", TestRandom.Uniform(3 * 2 * 9, 6), new Shape(3, 2, 3, 3));
        GradCheck.Assert(t =>
        {
            var a = Op.Conv2D(t[0], t[1], null, 1, Padding.Same);
            var b = Op.Conv2D(t[0], t[2], null, 1, Padding.Same);
            return Op.MatMul(Op.Flatten(a), Op.Flatten(b), transposeB: true);
        }, x, w1, w2);
    }

    [Fact]
    public void Two_backward_passes_give_bitwise_identical_weight_gradients()
    {
        using var x = Tensor.FromArray(TestRandom.Uniform(40 * 6 * 10 * 10, 1), new Shape(40, 6, 10, 10));
        using var wt = GradCheck.Input("w", TestRandom.Uniform(8 * 6 * 9, 2), new Shape(8, 6, 3, 3));
        using var b = GradCheck.Input("b", TestRandom.Uniform(8, 3), new Shape(8));
        using var seed = Tensor.FromArray(TestRandom.Uniform(40 * 8 * 100, 4), new Shape(40, 8, 10, 10));
        float[]? firstW = null, firstB = null;
        for (int run = 0; run < 2; run++)
        {
            var tape = Tape.Current;
            tape.Reset();
            var y = Op.Conv2D(x, wt, b, 1, Padding.Same);
            y.Backward(seed);
            var dw = wt.Grad!.ToArray();
            var db = b.Grad!.ToArray();
            wt.Grad.Dispose(); wt.SetGrad(null);
            b.Grad!.Dispose(); b.SetGrad(null);
            tape.Reset();
            if (firstW is null) { firstW = dw; firstB = db; continue; }
            for (int i = 0; i < dw.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(firstW[i]), BitConverter.SingleToInt32Bits(dw[i]));
            for (int i = 0; i < db.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(firstB![i]), BitConverter.SingleToInt32Bits(db[i]));
        }
    }

    // ---------------------------------------------------------------- bad input at the door

    [Fact]
    public void Wrong_channel_count_names_the_op_and_shapes()
    {
        using var x = Tensor.Zeros(new Shape(2, 3, 8, 8));
        using var w = Tensor.Zeros(new Shape(4, 5, 3, 3));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, null, 1, Padding.Same));
        AssertNames(ex, "(4, 5, 3, 3)", "3 channels");
    }

    [Fact]
    public void Rank_three_input_is_rejected()
    {
        using var x = Tensor.Zeros(new Shape(3, 8, 8));
        using var w = Tensor.Zeros(new Shape(4, 3, 3, 3));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, null, 1, Padding.Same));
        AssertNames(ex, "(3, 8, 8)");
    }

    [Fact]
    public void Bias_of_wrong_length_is_rejected()
    {
        using var x = Tensor.Zeros(new Shape(2, 3, 8, 8));
        using var w = Tensor.Zeros(new Shape(4, 3, 3, 3));
        using var bias = Tensor.Zeros(new Shape(5));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, bias, 1, Padding.Same));
        AssertNames(ex, "(5)", "(4, 3, 3, 3)");
        using var bias2 = Tensor.Zeros(new Shape(1, 4));
        ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, bias2, 1, Padding.Same));
        AssertNames(ex, "(1, 4)");
    }

    [Fact]
    public void Kernel_larger_than_a_valid_padded_image_is_rejected()
    {
        using var x = Tensor.Zeros(new Shape(2, 3, 4, 4));
        using var w = Tensor.Zeros(new Shape(4, 3, 5, 5));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, null, 1, Padding.Valid));
        AssertNames(ex, "5×5", "4×4");
        // The same kernel with 'same' padding is fine.
        Assert.Equal(new Shape(2, 4, 4, 4), Op.Conv2D(x, w, null, 1, Padding.Same).Shape);
        Tape.Current.Reset();
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(-1, -1)]
    public void Stride_below_one_is_rejected(int strideH, int strideW)
    {
        using var x = Tensor.Zeros(new Shape(2, 3, 8, 8));
        using var w = Tensor.Zeros(new Shape(4, 3, 3, 3));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, null, strideH, strideW, Padding.Same));
        AssertNames(ex, "(2, 3, 8, 8)", "(4, 3, 3, 3)", "stride");
    }

    [Fact]
    public void Empty_batch_is_rejected()
    {
        using var x = Tensor.Zeros(new Shape(0, 3, 8, 8));
        using var w = Tensor.Zeros(new Shape(4, 3, 3, 3));
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2D(x, w, null, 1, Padding.Same));
        AssertNames(ex, "(0, 3, 8, 8)", "empty");
    }

    private static void AssertNames(ArgumentException ex, params string[] fragments)
    {
        Assert.Contains("Conv2D", ex.Message);
        foreach (var fragment in fragments) Assert.Contains(fragment, ex.Message);
    }
}
