using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

/// <summary>
/// A temporary feeding two ops, where one of them (MaxPool2D, or a convolution's dx) may give it its FIRST gradient by
/// overwriting a fresh, uninitialised tensor (Tape.GradForOverwrite) and the other accumulates. Both recording orders:
/// the overwriting op's backward runs first (it must write the whole tensor) or second (it must then add).
/// </summary>
public class FanOutGradientTests
{
    // t is used by op(t), with F values per image, and by a plain reshape of itself; a MatMul joins the two:
    // (n, F) · (F, t.Length / F). opFirst decides which use is recorded first (and so whose backward runs last).
    private static Tensor Join(Tensor t, Func<Tensor, Tensor> op, int featuresPerImage, bool opFirst)
    {
        int n = t.Shape[0];
        Tensor left, right;
        if (opFirst)
        {
            left = Op.Reshape(op(t), new Shape(n, featuresPerImage));
            right = Op.Reshape(t, new Shape(featuresPerImage, t.Length / featuresPerImage));
        }
        else
        {
            right = Op.Reshape(t, new Shape(featuresPerImage, t.Length / featuresPerImage));
            left = Op.Reshape(op(t), new Shape(n, featuresPerImage));
        }
        return Op.MatMul(left, right);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MaxPool2D_sharing_its_input(bool poolRecordedFirst)
    {
        // Distinct values 0.05 apart ≫ the 0.01 step: no window's argmax flips while probing. Even sides: the overwriting path.
        using var x = GradCheck.Input("x", TestRandom.Distinct(2 * 3 * 4 * 6, 11), new Shape(2, 3, 4, 6));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(3, 12), new Shape(3));
        GradCheck.Assert(t => Join(Op.AddBias(t[0], t[1]), u => Op.MaxPool2D(u, 2, 2), 3 * 2 * 3, poolRecordedFirst), x, b);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Conv2D_sharing_its_input(bool convRecordedFirst)
    {
        using var x = GradCheck.Input("x", TestRandom.Uniform(2 * 3 * 4 * 6, 13), new Shape(2, 3, 4, 6));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(3, 14), new Shape(3));
        using var w = GradCheck.Input("w", TestRandom.Uniform(3 * 3 * 3 * 3, 15), new Shape(3, 3, 3, 3));
        GradCheck.Assert(t => Join(Op.AddBias(t[0], t[1]), u => Op.Conv2D(u, t[2], null, 1, Padding.Same), 3 * 4 * 6, convRecordedFirst), x, b, w);
    }
}
