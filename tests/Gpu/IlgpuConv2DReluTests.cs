using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Gradients;
using NativeConv.Tests.Kernels;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gpu;

/// <summary>
/// Op.Conv2DRelu on ILGPU's CPU accelerator, which does not override the fused kernels: the IBackend default composition
/// (conv forward + ReLU in place; zeroed temporary + ReLU backward + conv backward) must give what the separate ops give.
/// </summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public class IlgpuConv2DReluTests
{
    [Theory]
    [InlineData(2, 3, 5, 6, 4, 3, 1, "same")]
    [InlineData(2, 2, 7, 6, 3, 3, 2, "valid")]
    public void Default_composition_equals_the_separate_ops_bitwise(int n, int c, int h, int w, int oc, int k, int stride, string padding)
    {
        var pad = padding == "same" ? Padding.Same : Padding.Valid;
        var backend = TestBackends.IlgpuCpu;
        var xv = TestRandom.Uniform(n * c * h * w, 1);
        var wv = TestRandom.Uniform(oc * c * k * k, 2);
        var bv = TestRandom.Uniform(oc, 3);
        Array.Clear(wv, 0, c * k * k); // channel 0: pre-activation exactly 0 (ReLU'(0) = 0)
        bv[0] = 0f;

        var unfused = Run(fused: false);
        var fused = Run(fused: true);
        for (int i = 0; i < unfused.Length; i++) Conv2DReluFusionTests.AssertBitwise(unfused[i], fused[i], $"ilgpu-cpu result {i}");

        float[][] Run(bool fused)
        {
            using var x = Input("x", xv, new Shape(n, c, h, w));
            using var wt = Input("w", wv, new Shape(oc, c, k, k));
            using var b = Input("bias", bv, new Shape(oc));
            var tape = Tape.Current;
            tape.Reset();
            var y = fused ? Op.Conv2DRelu(x, wt, b, stride, pad) : Op.Relu(Op.Conv2D(x, wt, b, stride, pad));
            using (var s = Tensor.FromArray(TestRandom.Uniform(y.Length, 4), y.Shape, backend)) y.Backward(s);
            var result = new[] { y.ToArray(), x.Grad!.ToArray(), wt.Grad!.ToArray(), b.Grad!.ToArray() };
            tape.Reset();
            return result;
        }

        Tensor Input(string name, float[] values, Shape shape)
        {
            var t = Tensor.FromArray(values, shape, backend);
            t.RequiresGrad = true;
            t.Name = name;
            return t;
        }
    }

    [Fact]
    public void Default_composition_gradients_by_central_differences()
    {
        var xs = new Shape(2, 3, 5, 4);
        var ws = new Shape(3, 3, 3, 3);
        var (xv, wv, bv) = KinkFreeConvData.Draw(xs, ws, 1, Padding.Same, seed: 5);
        var backend = TestBackends.IlgpuCpu;
        using var x = Tensor.FromArray(xv, xs, backend);
        using var wt = Tensor.FromArray(wv, ws, backend);
        using var b = Tensor.FromArray(bv, new Shape(3), backend);
        foreach (var (t, name) in new[] { (x, "x"), (wt, "w"), (b, "bias") }) { t.RequiresGrad = true; t.Name = name; }
        var result = GradCheck.Run(t => Op.Conv2DRelu(t[0], t[1], t[2], 1, Padding.Same), [x, wt, b], maxPerInput: 25);
        Assert.True(result.Passed, result.ToString());
        Assert.True(result.Checked > 0);
    }
}
