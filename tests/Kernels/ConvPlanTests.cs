using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>The convolution plan: chosen once per (geometry with its batch, setting, threads), sized from the caches, followed by the kernels.</summary>
public class ConvPlanTests
{
    private static ConvGeometry Layer(int n, int c, int hw, int oc, int k = 3, int stride = 1) =>
        ConvGeometry.Create(new Shape(n, c, hw, hw), new Shape(oc, c, k, k), stride, stride, k == 1 ? Padding.Valid : Padding.Same);

    [Fact]
    public void A_plan_is_made_once_per_geometry_and_batch_and_then_reused()
    {
        var g = Layer(97, 32, 16, 48); // a batch size no other test uses, so the first call here makes the plan
        var first = ConvPlan.For(g, Conv2DAlgorithm.Auto);
        Assert.Same(first, ConvPlan.For(g, Conv2DAlgorithm.Auto));
        Assert.Equal(g, first.Geometry);

        var otherBatch = ConvPlan.For(g with { N = 1 }, Conv2DAlgorithm.Auto);
        Assert.NotSame(first, otherBatch);
        Assert.Equal(1, otherBatch.Geometry.N);
        Assert.Same(otherBatch, ConvPlan.For(g with { N = 1 }, Conv2DAlgorithm.Auto));
        Assert.NotSame(first, ConvPlan.For(g, Conv2DAlgorithm.Im2Col));
        Assert.Equal(Conv2DAlgorithm.Im2Col, ConvPlan.For(g, Conv2DAlgorithm.Im2Col).Algorithm);
    }

    [Fact]
    public void A_cache_hit_allocates_nothing()
    {
        // The least of a few rounds: the runtime itself may allocate on this thread once in a while (tiering up the
        // method mid-loop), while an allocating lookup would allocate in every round.
        var g = Layer(93, 64, 8, 128);
        ConvPlan.For(g, Conv2DAlgorithm.Auto);
        long least = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) ConvPlan.For(g, Conv2DAlgorithm.Auto);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
    }

    [Fact]
    public void Plans_made_on_many_threads_at_once_are_one_plan()
    {
        var g = Layer(91, 32, 32, 32);
        var plans = new ConvPlan[16];
        Parallel.For(0, plans.Length, i => plans[i] = ConvPlan.For(g, Conv2DAlgorithm.Auto));
        foreach (var plan in plans) Assert.Same(ConvPlan.For(g, Conv2DAlgorithm.Auto), plan);
    }

    [Fact]
    public void The_methods_follow_the_setting_and_the_geometry()
    {
        var wide = ConvPlan.Create(Layer(128, 32, 32, 32), Conv2DAlgorithm.Auto, threads: 2);
        Assert.Equal((ConvMethod.Winograd, ConvMethod.Winograd, ConvMethod.Winograd), (wide.Forward, wide.InputGradient, wide.WeightGradient));

        var im2col = ConvPlan.Create(Layer(128, 32, 32, 32), Conv2DAlgorithm.Im2Col, threads: 2);
        Assert.Equal((ConvMethod.Im2Col, ConvMethod.Im2Col, ConvMethod.Im2Col), (im2col.Forward, im2col.InputGradient, im2col.WeightGradient));

        var first = ConvPlan.Create(Layer(128, 3, 32, 32), Conv2DAlgorithm.Auto, threads: 2); // C = 3: narrow patch
        Assert.Equal((ConvMethod.Direct, ConvMethod.Im2Col, ConvMethod.Im2ColDots), (first.Forward, first.InputGradient, first.WeightGradient));
        var firstIm2Col = ConvPlan.Create(Layer(128, 3, 32, 32), Conv2DAlgorithm.Im2Col, threads: 2);
        Assert.Equal((ConvMethod.Im2Col, ConvMethod.Im2Col, ConvMethod.Im2ColDots), (firstIm2Col.Forward, firstIm2Col.InputGradient, firstIm2Col.WeightGradient));
        var firstForced = ConvPlan.Create(Layer(128, 3, 32, 32), Conv2DAlgorithm.Winograd, threads: 2);
        Assert.Equal(ConvMethod.Winograd, firstForced.Forward);

        var pointwise = ConvPlan.Create(Layer(128, 64, 8, 32, k: 1), Conv2DAlgorithm.Auto, threads: 2);
        Assert.Equal((ConvMethod.Pointwise, ConvMethod.Pointwise, ConvMethod.Pointwise), (pointwise.Forward, pointwise.InputGradient, pointwise.WeightGradient));
        Assert.Equal(0, pointwise.ColumnFloats);

        var strided = ConvPlan.Create(Layer(128, 64, 16, 64, stride: 2), Conv2DAlgorithm.Winograd, threads: 2);
        Assert.Equal(ConvMethod.Im2Col, strided.Forward); // Winograd is 3×3 stride 1 only

        string text = wide.Describe();
        Assert.Contains("32→32", text);
        Assert.Contains("N128", text);
        Assert.Contains("fwd winograd", text);
        Assert.Contains("dW im2col dots", first.Describe());
    }

    [Fact]
    public void Group_sizes_come_from_the_L2_with_the_tuned_constants_as_fallback()
    {
        var l2Of2MiB = new CpuCaches(32 << 10, 2 << 20, 32 << 20, "test");
        var l2Of512KiB = new CpuCaches(32 << 10, 512 << 10, 32 << 20, "test");

        // 64→128 @8: V and M are 16·192·16 floats an image; half of a 2 MiB L2 holds 5, half of 512 KiB 1, but the
        // GEMM keeps ≥ 64 tiles: 4 images of 16.
        var g = Layer(128, 64, 8, 128);
        Assert.Equal(5, ConvPlan.Create(g, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of2MiB).ForwardWinogradImages);
        Assert.Equal(4, ConvPlan.Create(g, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of512KiB).ForwardWinogradImages);
        // 32→32 @32: 16·64·256 floats an image, over any of these budgets: one image.
        Assert.Equal(1, ConvPlan.Create(Layer(128, 32, 32, 32), Conv2DAlgorithm.Auto, threads: 2, caches: l2Of2MiB).ForwardWinogradImages);
        Assert.Equal(5, ConvPlan.Create(g, Conv2DAlgorithm.Auto, threads: 2, caches: CpuCaches.Fallback).ForwardWinogradImages);

        // 16→32 @14, im2col: 5 images make the GEMM ~1024 columns; their 138 Ki-float column matrix fits 5/16 of 2 MiB
        // only; with 512 KiB the floor of 256 columns keeps 2.
        var h = Layer(128, 16, 14, 32);
        Assert.Equal(5, ConvPlan.Create(h, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of2MiB).Im2ColImagesPerGroup);
        Assert.Equal(2, ConvPlan.Create(h, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of512KiB).Im2ColImagesPerGroup);
        Assert.Equal(5, ConvPlan.Create(h, Conv2DAlgorithm.Auto, threads: 2, caches: CpuCaches.Fallback).Im2ColImagesPerGroup);

        // Few images: at least 4 groups per thread wins over the cache.
        Assert.Equal(1, ConvPlan.Create(Layer(8, 16, 14, 32), Conv2DAlgorithm.Auto, threads: 2, caches: l2Of2MiB).Im2ColImagesPerGroup);
        // A forced group size is taken as it is (capped at the batch).
        var forced = ConvPlan.Create(h, Conv2DAlgorithm.Auto, imagesPerGroup: 3, threads: 2);
        Assert.Equal((3, 43), (forced.Im2ColImagesPerGroup, forced.Im2ColGroups));
    }

    [Fact]
    public void A_forward_only_plan_follows_the_inference_rule()
    {
        var l2Of512KiB = new CpuCaches(32 << 10, 512 << 10, 32 << 20, "test");
        // 16→32 @14: training runs the direct forward (Winograd's rule wants 32 channels on both sides), inference Winograd
        // (16 in, 32 out suffice) — but the direct forward for a single image.
        var h = Layer(128, 16, 14, 32);
        var training = ConvPlan.Create(h, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of512KiB);
        var inference = ConvPlan.Create(h, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of512KiB, forwardOnly: true);
        Assert.Equal(ConvMethod.Direct, training.Forward);
        Assert.Equal(ConvMethod.Winograd, inference.Forward);
        Assert.True(inference.ForwardOnly);
        // Its 16 GEMMs keep ≥ 192 Ki multiply-adds each (K = 16, M = 32: 384 tiles, 8 images of 49), past the L2 budget.
        Assert.Equal(8, inference.ForwardWinogradImages);
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(h with { N = 1 }, Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).Forward);
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(h with { N = 1 }, Conv2DAlgorithm.Auto, threads: 1, forwardOnly: true).Forward);
        var wide = Layer(1, 32, 16, 32); // 32 channels in: Winograd even for one image
        Assert.Equal(1, ConvPlan.Create(wide, Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).ForwardWinogradImages);
        // 16 output channels: the direct forward at every batch.
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(Layer(128, 16, 32, 16), Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).Forward);
        // The settings still rule: Im2Col forces im2col; first layers (C = 1, 3) and 8 channels never run Winograd (the
        // direct forward, DirectConvForwardTests).
        Assert.Equal(ConvMethod.Im2Col, ConvPlan.Create(h, Conv2DAlgorithm.Im2Col, threads: 2, forwardOnly: true).Forward);
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(Layer(128, 3, 32, 16), Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).Forward);
        Assert.Equal(ConvMethod.Direct, ConvPlan.Create(Layer(128, 8, 32, 8), Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).Forward);
        // Layers with ≥ 32 channels are the training plan's (the floor does not bind): 64→128 @8 keeps 4 images of 16.
        var g = Layer(128, 64, 8, 128);
        Assert.Equal(ConvPlan.Create(g, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of512KiB).ForwardWinogradImages,
            ConvPlan.Create(g, Conv2DAlgorithm.Auto, threads: 2, caches: l2Of512KiB, forwardOnly: true).ForwardWinogradImages);
        // Cached apart from the training plan of the same geometry.
        Assert.NotSame(ConvPlan.For(h, Conv2DAlgorithm.Auto), ConvPlan.For(h, Conv2DAlgorithm.Auto, forwardOnly: true));
        Assert.Same(ConvPlan.For(h, Conv2DAlgorithm.Auto, forwardOnly: true), ConvPlan.For(h, Conv2DAlgorithm.Auto, forwardOnly: true));
    }

    [Fact]
    public void One_image_on_two_threads_is_cut_into_row_bands_by_a_forward_only_im2col_plan()
    {
        // cifar-small's first layer at batch 1: bands (two, four from 32 output rows on two threads).
        var first = Layer(1, 3, 32, 8);
        var inference = ConvPlan.Create(first, Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true);
        Assert.Equal(4, inference.ForwardRowBands);
        Assert.False(inference.ForwardSplitsGroups);
        Assert.Contains("4 row bands an image", inference.DescribeForward());
        Assert.Equal(2, ConvPlan.Create(Layer(1, 3, 16, 8), Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).ForwardRowBands);
        // Not: training plans, Winograd forwards, as many images as threads, one thread, outputs too short to share.
        Assert.Equal(0, ConvPlan.Create(first, Conv2DAlgorithm.Auto, threads: 2).ForwardRowBands);
        Assert.Equal(0, ConvPlan.Create(Layer(1, 32, 32, 32), Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).ForwardRowBands);
        Assert.Equal(0, ConvPlan.Create(first with { N = 2 }, Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).ForwardRowBands);
        Assert.Equal(0, ConvPlan.Create(first, Conv2DAlgorithm.Auto, threads: 1, forwardOnly: true).ForwardRowBands);
        Assert.Equal(0, ConvPlan.Create(Layer(1, 3, 3, 8), Conv2DAlgorithm.Auto, threads: 2, forwardOnly: true).ForwardRowBands);
    }

    public static TheoryData<Conv2DAlgorithm, bool, bool> Combinations()
    {
        var data = new TheoryData<Conv2DAlgorithm, bool, bool>();
        foreach (var algorithm in new[] { Conv2DAlgorithm.Auto, Conv2DAlgorithm.Im2Col, Conv2DAlgorithm.Winograd })
        foreach (bool relu in new[] { false, true })
        foreach (bool accumulate in new[] { true, false })
            data.Add(algorithm, relu, accumulate);
        return data;
    }

    /// <summary>
    /// Every setting × fused ReLU or not × dx accumulated or overwritten, through an explicit plan, against the double
    /// reference: the forward (ReLU'd when fused) and dx, dW, dBias of dY (masked by the ReLU output when fused).
    /// </summary>
    [Theory]
    [MemberData(nameof(Combinations))]
    public void Every_algorithm_relu_and_write_mode_matches_the_reference(Conv2DAlgorithm algorithm, bool relu, bool accumulate)
    {
        int seed = 40_000 + (int)algorithm * 100 + (relu ? 10 : 0) + (accumulate ? 1 : 0);
        ConvGeometry[] layers =
        [
            Layer(5, 33, 7, 32), Layer(3, 3, 9, 8), Layer(4, 8, 6, 5, k: 1), Layer(3, 32, 6, 40, stride: 2),
            ConvGeometry.Create(new Shape(2, 34, 5, 11), new Shape(32, 34, 3, 3), 1, 1, Padding.Valid),
        ];
        foreach (var g in layers)
        foreach (int images in new[] { 0, 2 })
        {
            var plan = images == 0 ? ConvPlan.For(g, algorithm) : ConvPlan.Create(g, algorithm, images);
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, seed++);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, seed++);
            var bias = TestRandom.Uniform(g.OC, seed++);
            string what = $"{plan.Describe()} relu={relu} accumulate={accumulate}";

            var y = new float[g.N * g.OC * g.OutputPixels];
            TestRandom.Poison(y);
            Conv2DForwardKernel.Run(x, w, bias, y, plan, relu);
            var (yRef, yScale) = ConvReference.Forward(x, w, bias, g);
            if (relu)
                for (int i = 0; i < yRef.Length; i++) yRef[i] = Math.Max(yRef[i], 0);
            ConvReference.AssertClose(y, yRef, yScale, $"forward {what}");

            var dy = TestRandom.Uniform(y.Length, seed++);
            var upstream = (float[])dy.Clone();
            if (relu)
                for (int i = 0; i < upstream.Length; i++) upstream[i] = y[i] > 0 ? upstream[i] : 0f;
            var r = ConvReference.Backward(x, w, upstream, g);

            var dx0 = TestRandom.Uniform(x.Length, seed++);
            var dx = accumulate ? (float[])dx0.Clone() : KernelSweep.Poisoned(x.Length);
            var dw = new float[w.Length];
            var db = new float[g.OC];
            if (relu) Conv2DBackwardKernel.RunRelu(x, w, y, dy, dx, dw, db, plan, accumulate);
            else Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, plan, accumulate);

            var dxExpected = (double[])r.Dx.Clone();
            var dxScale = (double[])r.DxScale.Clone();
            if (accumulate)
                for (int i = 0; i < dxExpected.Length; i++) { dxExpected[i] += dx0[i]; dxScale[i] += 1; }
            ConvReference.AssertClose(dx, dxExpected, dxScale, $"dx {what}");
            ConvReference.AssertClose(dw, r.Dw, r.DwScale, $"dW {what}");
            ConvReference.AssertClose(db, r.DBias, r.DBiasScale, $"dBias {what}");
        }
    }

    [Fact]
    public void The_same_plan_gives_the_same_bits()
    {
        var g = Layer(23, 32, 10, 32);
        foreach (var algorithm in new[] { Conv2DAlgorithm.Im2Col, Conv2DAlgorithm.Winograd })
        {
            var plan = ConvPlan.For(g, algorithm);
            var x = TestRandom.Uniform(g.N * g.C * g.H * g.W, 1);
            var w = TestRandom.Uniform(g.OC * g.PatchSize, 2);
            var dy = TestRandom.Uniform(g.N * g.OC * g.OutputPixels, 3);
            float[]? firstDx = null, firstDw = null, firstDb = null;
            for (int run = 0; run < 3; run++)
            {
                var (dx, dw, db) = (new float[x.Length], new float[w.Length], new float[g.OC]);
                Conv2DBackwardKernel.Run(x, w, dy, dx, dw, db, plan);
                if (firstDx is null) { (firstDx, firstDw, firstDb) = (dx, dw, db); continue; }
                KernelSweep.Exact(firstDx, dx, $"{algorithm} dx");
                KernelSweep.Exact(firstDw, dw, $"{algorithm} dW");
                KernelSweep.Exact(firstDb, db, $"{algorithm} dBias");
            }
        }
    }
}
