using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Ops;

namespace NativeConv.Tests.Gradients;

/// <summary>Bad input is refused at each op's door with a message that names the op, the shapes and the fix.</summary>
public class PoolingBiasLossOpChecksTests
{
    private static void Throws<TException>(Action act, params string[] fragments) where TException : Exception
    {
        var ex = Assert.Throws<TException>(act);
        foreach (var fragment in fragments)
            Assert.Contains(fragment, ex.Message);
        Tape.Current.Reset();
    }

    [Fact]
    public void AddBias()
    {
        using var x3 = Tensor.Zeros(new Shape(2, 3, 4));
        using var x = Tensor.Zeros(new Shape(2, 3, 4, 4));
        using var bias = Tensor.Zeros(new Shape(5));
        using var bias2 = Tensor.Zeros(new Shape(3, 1));
        Throws<ArgumentException>(() => Op.AddBias(x3, bias), "AddBias", "(2, 3, 4)");
        Throws<ArgumentException>(() => Op.AddBias(x, bias), "AddBias", "(5)", "(2, 3, 4, 4)");
        Throws<ArgumentException>(() => Op.AddBias(x, bias2), "AddBias", "bias");
    }

    [Fact]
    public void MaxPool2D()
    {
        using var x = Tensor.Zeros(new Shape(2, 3, 5, 5));
        using var flat = Tensor.Zeros(new Shape(2, 75));
        using var empty = Tensor.Zeros(new Shape(0, 3, 5, 5));
        Throws<ArgumentException>(() => Op.MaxPool2D(x, 6, 1), "MaxPool2D", "6×6", "5×5");
        Throws<ArgumentException>(() => Op.MaxPool2D(x, 0, 1), "MaxPool2D", "pool size");
        Throws<ArgumentException>(() => Op.MaxPool2D(x, 2, 0), "MaxPool2D", "stride");
        Throws<ArgumentException>(() => Op.MaxPool2D(flat, 2, 2), "MaxPool2D", "(2, 75)");
        Throws<ArgumentException>(() => Op.MaxPool2D(empty, 2, 2), "MaxPool2D", "empty");
    }

    [Fact]
    public void GlobalAvgPool2D()
    {
        using var flat = Tensor.Zeros(new Shape(2, 75));
        using var empty = Tensor.Zeros(new Shape(0, 3, 5, 5));
        using var noPlane = Tensor.Zeros(new Shape(2, 3, 0, 5));
        Throws<ArgumentException>(() => Op.GlobalAvgPool2D(flat), "GlobalAvgPool2D", "(2, 75)");
        Throws<ArgumentException>(() => Op.GlobalAvgPool2D(empty), "GlobalAvgPool2D", "empty");
        Throws<ArgumentException>(() => Op.GlobalAvgPool2D(noPlane), "GlobalAvgPool2D", "(2, 3, 0, 5)");
    }

    [Fact]
    public void Dropout()
    {
        using var x = Tensor.Zeros(new Shape(4, 8));
        Throws<ArgumentOutOfRangeException>(() => Op.Dropout(x, 1f, true, 1), "Dropout", "[0, 1)", "(4, 8)");
        Throws<ArgumentOutOfRangeException>(() => Op.Dropout(x, -0.1f, true, 1), "Dropout", "[0, 1)");
        Throws<ArgumentOutOfRangeException>(() => Op.Dropout(x, float.NaN, false, 1), "Dropout", "[0, 1)");
    }

    [Fact]
    public void Dropout_is_identity_in_eval_or_at_rate_zero()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f], new Shape(3));
        x.RequiresGrad = true;
        var tape = Tape.Current;
        tape.Reset();
        Assert.Same(x, Op.Dropout(x, 0.5f, training: false, seed: 1));
        Assert.Same(x, Op.Dropout(x, 0f, training: true, seed: 1));
        Assert.Equal(0, tape.NodeCount);
        Assert.Equal(0, tape.TemporaryCount);
        var y = Op.Dropout(x, 0.5f, training: true, seed: 1);
        Assert.NotSame(x, y);
        Assert.Equal(1, tape.NodeCount);
        tape.Reset();
    }

    [Fact]
    public void SoftmaxCrossEntropy()
    {
        using var logits = Tensor.Zeros(new Shape(3, 10));
        using var rank1 = Tensor.Zeros(new Shape(10));
        using var empty = Tensor.Zeros(new Shape(0, 10));
        using var labels = Tensor.FromArray([1f, 2f, 3f], new Shape(3));
        using var shortLabels = Tensor.FromArray([1f, 2f], new Shape(2));
        using var tooBig = Tensor.FromArray([1f, 10f, 3f], new Shape(3));
        using var negative = Tensor.FromArray([-1f, 0f, 3f], new Shape(3));
        using var fraction = Tensor.FromArray([1f, 2f, 2.5f], new Shape(3));
        using var nan = Tensor.FromArray([1f, float.NaN, 2f], new Shape(3));
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(rank1, labels), "SoftmaxCrossEntropy", "(10)", "(N, K)");
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(empty, labels), "SoftmaxCrossEntropy", "empty");
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(logits, shortLabels), "SoftmaxCrossEntropy", "(2)", "(3, 10)");
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(logits, tooBig), "SoftmaxCrossEntropy", "label 10 at index 1", "[0, 10)");
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(logits, negative), "label -1 at index 0");
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(logits, fraction), "label 2.5 at index 2");
        Throws<ArgumentException>(() => Op.SoftmaxCrossEntropy(logits, nan), "label NaN at index 1");
    }

    [Fact]
    public void SoftmaxCrossEntropy_refuses_a_NaN_or_infinite_loss()
    {
        using var labels = Tensor.FromArray([0f, 1f], new Shape(2));
        using var nanLogits = Tensor.FromArray([1f, 2f, float.NaN, 0f], new Shape(2, 2));
        using var infLogits = Tensor.FromArray([1f, 2f, float.PositiveInfinity, 0f], new Shape(2, 2));
        Throws<InvalidOperationException>(() => Op.SoftmaxCrossEntropy(nanLogits, labels), "SoftmaxCrossEntropy", "NaN", "learning rate", "[0, 1]");
        Throws<InvalidOperationException>(() => Op.SoftmaxCrossEntropy(infLogits, labels), "SoftmaxCrossEntropy", "learning rate");
    }

    [Fact]
    public void SoftmaxCrossEntropy_value_matches_by_hand()
    {
        // Two classes, logits (0, ln 3): softmax = (1/4, 3/4). Labels 1 then 0: loss = (−ln 3/4 − ln 1/4)/2 = (ln 4/3 + ln 4)/2.
        using var logits = Tensor.FromArray([0f, MathF.Log(3f), 0f, MathF.Log(3f)], new Shape(2, 2));
        using var labels = Tensor.FromArray([1f, 0f], new Shape(2));
        float loss = Op.SoftmaxCrossEntropy(logits, labels).Item();
        Assert.Equal((Math.Log(4.0 / 3) + Math.Log(4)) / 2, loss, 1e-6);
        Tape.Current.Reset();
    }
}
