using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The direct backward passes (<see cref="DirectConvForward.RunInputGradient{TWrite}"/>, <see cref="DirectConvWeightGradient"/>):
/// against the double reference on awkward stride-1 shapes, accumulating into and overwriting gradients, with the fused
/// ReLU's mask; the rules that pick them.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // one test sets the thread count
public class DirectConvBackwardTests
{
    private static IEnumerable<ConvGeometry> Shapes()
    {
        foreach (var c in ConvReference.AwkwardCases())
        {
            var g = c.Geometry;
            if (c.SH == 1 && c.SW == 1 && DirectConvForward.Supports(g) && DirectConvForward.Supports(DirectConvForward.InputGradient(g)))
                yield return g;
        }
        foreach (int oc in new[] { 1, 3, 4, 5, 8, 9, 16 }) // the 4-row blocks and their single-row edges
            yield return ConvGeometry.Create(new Shape(3, 8, 13, 11), new Shape(oc, 8, 3, 3), 1, 1, Padding.Same);
        yield return ConvGeometry.Create(new Shape(2, 16, 14, 14), new Shape(8, 16, 5, 5), 1, 1, Padding.Same); // 400 taps: 3-tap blocks + 1
        yield return ConvGeometry.Create(new Shape(9, 8, 32, 32), new Shape(8, 8, 3, 3), 1, 1, Padding.Same);   // cifar-small's 8→8, chunks
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void Matches_the_double_reference_on_awkward_shapes(bool relu, bool accumulateDx)
    {
        int seed = 900, shapes = 0;
        foreach (var g in Shapes())
        {
            var plan = ConvPlan.CreateDirectTraining(g);
            Assert.Equal((ConvMethod.Direct, ConvMethod.Direct, ConvMethod.Direct), (plan.Forward, plan.InputGradient, plan.WeightGradient));
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, seed++);
            // The fused ReLU's output: about half zeros, so the mask matters; its dY is the masked one.
            var y = TestRandom.Uniform(dy.Length, seed++);
            var upstream = relu ? dy.Select((d, i) => y[i] > 0 ? d : 0f).ToArray() : dy;
            var dx0 = TestRandom.Uniform(x.Length, seed++);
            var dw0 = TestRandom.Uniform(w.Length, seed++);
            var db0 = TestRandom.Uniform(g.OC, seed++);
            var (dx, dw, db) = ((float[])dx0.Clone(), (float[])dw0.Clone(), (float[])db0.Clone());
            if (!accumulateDx) TestRandom.Poison(dx); // overwritten: its old contents are never read
            if (relu) Conv2DBackwardKernel.RunRelu(x, w, y, dy, dx, dw, db, plan, accumulateDx);
            else Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, plan, accumulateDx);

            var r = ConvReference.Backward(x, w, upstream, g);
            string what = $"{g} relu {relu} accumulate {accumulateDx}";
            ConvReference.AssertClose(dx, accumulateDx ? Plus(dx0, r.Dx) : r.Dx, Plus1(r.DxScale), $"dx {what}");
            ConvReference.AssertClose(dw, Plus(dw0, r.Dw), Plus1(r.DwScale), $"dw {what}");
            ConvReference.AssertClose(db, Plus(db0, r.DBias), Plus1(r.DBiasScale), $"dBias {what}");
            shapes++;
        }
        Assert.True(shapes >= 30, $"only {shapes} shapes ran");
    }

    [Fact]
    public void Each_gradient_alone_is_computed_and_the_others_are_left_alone()
    {
        var g = ConvGeometry.Create(new Shape(4, 8, 12, 10), new Shape(8, 8, 3, 3), 1, 1, Padding.Same);
        var plan = ConvPlan.CreateDirectTraining(g);
        var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, 1);
        var w = TestRandom.Uniform(g.OC * g.PatchSize, 2);
        var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, 3);
        var r = ConvReference.Backward(x, w, dy, g);
        var dx = new float[x.Length];
        Conv2DBackwardKernel.Run(x, w, dy, dx, default, default, plan);
        ConvReference.AssertClose(dx, r.Dx, Plus1(r.DxScale), "dx alone");
        var dw = new float[w.Length];
        Conv2DBackwardKernel.Run(x, w, dy, default, dw, default, plan);
        ConvReference.AssertClose(dw, r.Dw, Plus1(r.DwScale), "dw alone");
        var db = new float[g.OC];
        Conv2DBackwardKernel.Run(x, w, dy, default, default, db, plan);
        ConvReference.AssertClose(db, r.DBias, Plus1(r.DBiasScale), "dBias alone");
    }

    [Fact]
    public void A_plan_gives_the_same_bits_on_every_call_whichever_worker_runs_a_chunk()
    {
        var g = ConvGeometry.Create(new Shape(13, 8, 16, 16), new Shape(8, 8, 3, 3), 1, 1, Padding.Same);
        var plan = ConvPlan.CreateDirectTraining(g, threads: 2);
        var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, 4);
        var w = TestRandom.Uniform(g.OC * g.PatchSize, 5);
        var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, 6);
        float[] Once()
        {
            var dw = new float[w.Length];
            var db = new float[g.OC];
            Conv2DBackwardKernel.Run(x, w, dy, default, dw, db, plan);
            return [.. dw, .. db];
        }
        var first = Threads.On(2, Once);
        for (int i = 0; i < 5; i++) Assert.Equal(first, Threads.On(2, Once));
        // On one thread the plan's chunks run one after another and are added in the same order: the same bits.
        Assert.Equal(first, Threads.On(1, Once));
    }

    [Fact]
    public void Auto_runs_the_direct_gradients_for_few_channels()
    {
        static ConvPlan Plan(int c, int oc, int kernel, int size) =>
            ConvPlan.Create(ConvGeometry.Create(new Shape(64, c, size, size), new Shape(oc, c, kernel, kernel), 1, 1, Padding.Same),
                Conv2DAlgorithm.Auto, threads: 2);

        var small = Plan(8, 8, 3, 32); // cifar-small's 8→8: every pass direct
        Assert.Equal((ConvMethod.Direct, ConvMethod.Direct, ConvMethod.Direct), (small.Forward, small.InputGradient, small.WeightGradient));
        Assert.Contains("dW direct", small.Describe());
        var wider = Plan(16, 32, 3, 14); // 32 output channels: dW stays a GEMM
        Assert.Equal((ConvMethod.Direct, ConvMethod.Direct, ConvMethod.Im2Col), (wider.Forward, wider.InputGradient, wider.WeightGradient));
        var first = Plan(3, 32, 3, 32); // first layers: dot products for dW, im2col for dx (3 rows)
        Assert.Equal((ConvMethod.Direct, ConvMethod.Im2Col, ConvMethod.Im2ColDots), (first.Forward, first.InputGradient, first.WeightGradient));
        var winograd = Plan(32, 32, 3, 16);
        Assert.Equal((ConvMethod.Winograd, ConvMethod.Winograd, ConvMethod.Winograd), (winograd.Forward, winograd.InputGradient, winograd.WeightGradient));
        var forced = ConvPlan.Create(ConvGeometry.Create(new Shape(64, 8, 32, 32), new Shape(8, 8, 3, 3), 1, 1, Padding.Same),
            Conv2DAlgorithm.Im2Col, threads: 2);
        Assert.Equal((ConvMethod.Im2Col, ConvMethod.Im2Col, ConvMethod.Im2Col), (forced.Forward, forced.InputGradient, forced.WeightGradient));
    }

    private static double[] Plus(float[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    private static double[] Plus1(double[] scale) => scale.Select(s => s + 1).ToArray();
}
