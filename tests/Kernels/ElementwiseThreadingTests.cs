using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;
using NativeConv.Tests.Layers;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The elementwise, bias, pooling and optimiser kernels give the same bits on 1 and 2 threads at every width, on lengths
/// past the parallel threshold (chunks depend only on the sizes). Sets ParallelFor.ThreadCount, so runs alone.
/// </summary>
[Collection(EngineSettingsCollection.Name)]
public class ElementwiseThreadingTests
{
    public static TheoryData<VectorWidth> Widths() => ElementwiseSweep.Widths();

    /// <summary>Every kernel on the driver, one long array each, results concatenated.</summary>
    private static float[] RunAll(VectorWidth width)
    {
        const int length = 200_003; // 13 chunks of 16 384 and a ragged last one
        var x = ElementwiseSweep.WithSpecials(length, 1);
        var dy = ElementwiseSweep.WithSpecials(length, 2);
        var relu = new float[length];
        Relu.Forward(x, relu, width);
        var dx = TestRandom.Uniform(length, 3);
        Relu.Backward(x, dy, dx, width);
        var y = new float[length];
        var mask = new float[length];
        Dropout.Forward(x, y, mask, 0.4f, 77, width);
        var ddx = TestRandom.Uniform(length, 4);
        Dropout.Backward(dy, mask, ddx, width);
        var (p, m, v) = (TestRandom.Uniform(length, 5), TestRandom.Uniform(length, 6), TestRandom.Uniform(length, 7, 0f, 0.01f));
        AdamUpdate.Update(p, dy, m, v, 0.003f, 0.9f, 0.999f, 1e-7f, width);
        var (sp, velocity) = (TestRandom.Uniform(length, 8), TestRandom.Uniform(length, 9));
        SgdUpdate.Update(sp, dy, velocity, 0.05f, 0.9f, width);
        return [.. relu, .. dx, .. y, .. mask, .. ddx, .. p, .. m, .. v, .. sp, .. velocity];
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Driver_kernels_give_the_same_bits_on_one_and_two_threads_at_every_width(VectorWidth width)
    {
        var reference = Threads.On(1, () => RunAll(VectorWidth.Scalar));
        KernelSweep.Exact(reference, Threads.On(1, () => RunAll(width)), $"{width}, 1 thread vs scalar");
        KernelSweep.Exact(reference, Threads.On(2, () => RunAll(width)), $"{width}, 2 threads vs scalar");
    }

    [Fact]
    public void Bias_gradient_is_bitwise_reproducible_across_thread_counts()
    {
        var dy = TestRandom.Uniform(16 * 64 * 256, 3);
        float[] Run() 
        {
            var d4 = new float[64];
            Bias.Backward(dy, d4, 16, 64, 256);
            var d2 = new float[64 * 256];
            Bias.Backward(dy, d2, 16, 64 * 256, 1);
            var y = new float[dy.Length];
            Bias.Forward(dy, d2, y, 16, 64 * 256, 1);
            return [.. d4, .. d2, .. y];
        }
        KernelSweep.Exact(Threads.On(1, Run), Threads.On(2, Run), "threads 1 vs 2");
    }

    [Fact]
    public void Global_average_pool_is_bitwise_reproducible_across_thread_counts()
    {
        const int planes = 128 * 64, spatial = 64;
        var x = TestRandom.Uniform(planes * spatial, 5);
        var dy = TestRandom.Uniform(planes, 6);
        float[] Run()
        {
            var y = new float[planes];
            GlobalAvgPool.Forward(x, y, planes, spatial);
            var dx = TestRandom.Uniform(x.Length, 7);
            GlobalAvgPool.Backward(dy, dx, planes, spatial);
            return [.. y, .. dx];
        }
        KernelSweep.Exact(Threads.On(1, Run), Threads.On(2, Run), "threads 1 vs 2");
    }

    // Moved from DropoutKernelTests: it sets the process-wide thread count.
    [Fact]
    public void Same_seed_same_mask_different_seed_different_mask_any_thread_count()
    {
        const int length = 200_003; // above the parallel threshold
        var x = TestRandom.Uniform(length, 1);
        float[] Mask(ulong seed, int threads)
        {
            int saved = ParallelFor.ThreadCount;
            try
            {
                ParallelFor.ThreadCount = threads;
                var y = new float[length];
                var mask = new float[length];
                Dropout.Forward(x, y, mask, 0.5f, seed);
                return mask;
            }
            finally { ParallelFor.ThreadCount = saved; }
        }
        var a = Mask(1234, 2);
        KernelSweep.Exact(a, Mask(1234, 2), "same seed");
        KernelSweep.Exact(a, Mask(1234, 1), "same seed, one thread");
        var b = Mask(1235, 2);
        int differ = 0;
        for (int i = 0; i < length; i++) if (a[i] != b[i]) differ++;
        // Independent masks at rate 0.5 differ in half the elements.
        Assert.InRange(differ, length * 45 / 100, length * 55 / 100);
    }
}
