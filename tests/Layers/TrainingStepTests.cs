using NativeConv.Layers;
using NativeConv.Layers.Init;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Ops;

namespace NativeConv.Tests.Layers;

/// <summary>Whole training steps through the layer API: reproducibility and the no-allocation promise.</summary>
[Collection(EngineSettingsCollection.Name)]
public class TrainingStepTests
{
    private static Sequential SmallCnn(int seed)
    {
        var model = new Sequential(
            new Conv2D(3, 6, 3), new ReLU(), new MaxPool2D(2),
            new Conv2D(6, 8, 3), new ReLU(),
            new GlobalAvgPool2D(),
            new Dense(8, 16), new ReLU(),
            new Dropout(0.3f, seed: 99),
            new Dense(16, 4));
        model.Initialize(seed);
        return model;
    }

    private static (Tensor X, Tensor Labels) RandomBatch(int batch, int seed)
    {
        var rng = new SplitMix64((ulong)seed);
        var x = new float[batch * 3 * 12 * 12];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat(-1f, 1f);
        var labels = new float[batch];
        for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(4);
        return (Tensor.FromArray(x, new Shape(batch, 3, 12, 12)), Tensor.FromArray(labels, new Shape(batch)));
    }

    private static float Step(Module model, Optimizer optimizer, Tensor x, Tensor labels)
    {
        optimizer.ZeroGrad();
        var loss = Op.SoftmaxCrossEntropy(model.Forward(x), labels);
        loss.Backward();
        optimizer.Step();
        float value = loss.Item();
        Tape.Current.Reset();
        return value;
    }

    private static float[][] TrainAndSnapshot(int threads, int steps)
    {
        int saved = Engine.Threads;
        Engine.Threads = threads;
        try
        {
            var model = SmallCnn(seed: 5);
            var adam = new Adam(model.Parameters(), lr: 3e-3f);
            var (x, labels) = RandomBatch(16, seed: 6);
            using (x) using (labels)
            {
                for (int i = 0; i < steps; i++) Step(model, adam, x, labels);
            }
            return model.Parameters().Select(p => p.Value.ToArray()).ToArray();
        }
        finally
        {
            Engine.Threads = saved;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Same_seed_gives_bitwise_identical_weights_after_training(int threads)
    {
        var first = TrainAndSnapshot(threads, steps: 8);
        var second = TrainAndSnapshot(threads, steps: 8);
        var initial = SmallCnn(seed: 5).Parameters();
        for (int i = 0; i < first.Length; i++)
        {
            Assert.Equal(first[i], second[i]); // exact float equality, element by element
            Assert.NotEqual(initial[i].Value.ToArray(), first[i]); // and training did move every parameter
        }
    }

    [Fact]
    public void Training_lowers_the_loss_on_a_fixed_batch()
    {
        var model = SmallCnn(seed: 1);
        model.Eval(); // no dropout noise: the loss on one batch must fall
        var adam = new Adam(model.Parameters(), lr: 1e-2f);
        var (x, labels) = RandomBatch(16, seed: 2);
        using (x) using (labels)
        {
            float first = Step(model, adam, x, labels);
            float last = first;
            for (int i = 0; i < 60; i++) last = Step(model, adam, x, labels);
            Assert.True(last < 0.5f * first, $"loss went from {first} to {last}");
        }
    }

    [Fact]
    public void A_warm_training_step_allocates_nothing_on_the_managed_heap()
    {
        int saved = Engine.Threads;
        Engine.Threads = 1; // everything on this thread, so the per-thread counter sees every allocation
        try
        {
            var model = SmallCnn(seed: 3);
            var adam = new Adam(model.Parameters());
            var (x, labels) = RandomBatch(8, seed: 4);
            using (x) using (labels)
            {
                for (int i = 0; i < 3; i++) Step(model, adam, x, labels);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 5; i++) Step(model, adam, x, labels);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated == 0, $"5 warm training steps allocated {allocated} bytes on the managed heap.");
            }
        }
        finally
        {
            Engine.Threads = saved;
        }
    }
}
