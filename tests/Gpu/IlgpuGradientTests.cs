using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Gradients;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gpu;

/// <summary>
/// The gradient checks of the ops re-run with every tensor on ILGPU's CPU accelerator: the same ops and tape, the GPU kernels
/// underneath (central differences vs the tape's backward, see <see cref="GradCheck"/>).
/// </summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public class IlgpuGradientTests
{
    // Each probe is two forward passes of GPU kernels emulated on host threads: a seeded subset of 25 elements per input
    // keeps the class fast while every input (and every kernel's index arithmetic) is still probed at many positions.
    private static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var result = GradCheck.Run(f, inputs, maxPerInput: 25);
        Assert.True(result.Passed, result.ToString());
        Assert.True(result.Checked > 0, "No derivative was checked.");
    }

    private static Tensor Input(string name, float[] values, Shape shape)
    {
        var t = Tensor.FromArray(values, shape, TestBackends.IlgpuCpu);
        t.RequiresGrad = true;
        t.Name = name;
        return t;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_all_transposes(bool transposeA, bool transposeB)
    {
        const int m = 5, k = 7, n = 3;
        using var a = Input("a", TestRandom.Uniform(m * k, 1), transposeA ? new Shape(k, m) : new Shape(m, k));
        using var b = Input("b", TestRandom.Uniform(k * n, 2), transposeB ? new Shape(n, k) : new Shape(k, n));
        Check(t => Op.MatMul(t[0], t[1], transposeA, transposeB), a, b);
    }

    [Theory]
    [InlineData(2, 3, 5, 7, 4, 3, 1, "same")]
    [InlineData(2, 3, 7, 6, 2, 3, 2, "same")]
    [InlineData(2, 4, 4, 5, 3, 1, 1, "valid")]   // pointwise path
    [InlineData(2, 2, 6, 5, 3, 3, 2, "explicit")]
    public void Conv2D_input_weights_bias(int n, int c, int h, int w, int oc, int k, int stride, string padding)
    {
        var pad = padding switch { "same" => Padding.Same, "valid" => Padding.Valid, _ => Padding.Explicit(1, 2) };
        using var x = Input("x", TestRandom.Uniform(n * c * h * w, n + c + h), new Shape(n, c, h, w));
        using var wt = Input("w", TestRandom.Uniform(oc * c * k * k, oc + k), new Shape(oc, c, k, k));
        using var b = Input("bias", TestRandom.Uniform(oc, 3), new Shape(oc));
        Check(t => Op.Conv2D(t[0], t[1], t[2], stride, pad), x, wt, b);
    }

    [Theory]
    [InlineData(2, 3, 7, 9, 2, 2)]
    [InlineData(2, 3, 7, 9, 3, 2)] // overlapping windows
    [InlineData(1, 2, 5, 6, 2, 1)]
    public void MaxPool2D(int n, int c, int h, int w, int pool, int stride)
    {
        using var x = Input("x", TestRandom.Distinct(n * c * h * w, 7), new Shape(n, c, h, w));
        Check(t => Op.MaxPool2D(t[0], pool, stride), x);
    }

    [Fact]
    public void GlobalAvgPool2D_AddBias_Relu()
    {
        using var x = Input("x", TestRandom.AwayFromZero(2 * 5 * 3 * 4, 8), new Shape(2, 5, 3, 4));
        using var b = Input("bias", TestRandom.Uniform(5, 9), new Shape(5));
        Check(t => Op.GlobalAvgPool2D(Op.AddBias(t[0], t[1])), x, b);
        Check(t => Op.Relu(t[0]), x);
    }

    [Fact]
    public void Dropout_in_training()
    {
        using var x = Input("x", TestRandom.Uniform(2 * 3 * 5 * 7, 9), new Shape(2, 3, 5, 7));
        Check(t => Op.Dropout(t[0], 0.4f, training: true, seed: 77), x);
    }

    [Theory]
    [InlineData(5, 7)]
    [InlineData(1, 3)]
    public void SoftmaxCrossEntropy_wrt_logits(int batch, int classes)
    {
        using var logits = Input("logits", TestRandom.Uniform(batch * classes, 10, -2f, 2f), new Shape(batch, classes));
        var rng = new Random(11);
        using var labels = Tensor.FromArray(Enumerable.Range(0, batch).Select(_ => (float)rng.Next(classes)).ToArray(), new Shape(batch), TestBackends.IlgpuCpu);
        Check(t => Op.SoftmaxCrossEntropy(t[0], labels), logits);
    }

    [Fact]
    public void Small_network_chain()
    {
        // conv → bias → relu → max-pool → flatten → dense → softmax-CE: every backward kernel in one tape.
        using var x = Input("x", TestRandom.Distinct(2 * 2 * 6 * 6, 12), new Shape(2, 2, 6, 6));
        using var w = Input("w", TestRandom.Uniform(3 * 2 * 9, 13), new Shape(3, 2, 3, 3));
        using var b = Input("b", TestRandom.Uniform(3, 14), new Shape(3));
        using var d = Input("dense", TestRandom.Uniform(27 * 4, 15), new Shape(27, 4));
        using var labels = Tensor.FromArray([1f, 3f], new Shape(2), TestBackends.IlgpuCpu);
        Check(t =>
        {
            var h = Op.MaxPool2D(Op.Relu(Op.Conv2D(t[0], t[1], t[2], 1, Padding.Same)), 2, 2);
            return Op.SoftmaxCrossEntropy(Op.MatMul(Op.Flatten(h), t[3]), labels);
        }, x, w, b, d);
    }
}
