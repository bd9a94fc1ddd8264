using NativeConv.Tensors;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

public class BasicOpGradientTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 13)]
    [InlineData(3, 40)]
    public void Relu(int rows, int cols)
    {
        using var x = GradCheck.Input("x", TestRandom.AwayFromZero(rows * cols, rows + cols), new Shape(rows, cols));
        GradCheck.Assert(t => Op.Relu(t[0]), x);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_all_transposes(bool transposeA, bool transposeB)
    {
        const int m = 5, k = 7, n = 3;
        using var a = GradCheck.Input("a", TestRandom.Uniform(m * k, 1), transposeA ? new Shape(k, m) : new Shape(m, k));
        using var b = GradCheck.Input("b", TestRandom.Uniform(k * n, 2), transposeB ? new Shape(n, k) : new Shape(k, n));
        GradCheck.Assert(t => Op.MatMul(t[0], t[1], transposeA, transposeB), a, b);
    }

    [Fact]
    public void Reshape_and_flatten()
    {
        using var x = GradCheck.Input("x", TestRandom.AwayFromZero(2 * 3 * 4 * 5, 3), new Shape(2, 3, 4, 5));
        GradCheck.Assert(t => Op.Relu(Op.Flatten(t[0])), x);
    }
}
