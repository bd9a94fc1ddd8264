using NativeConv.Layers;
using NativeConv.Layers.Inference;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Layers;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Inference;

/// <summary>
/// The inference path against the training path's forward: the same logits for every study model and batch 1..9
/// (bitwise where every layer runs the training forward's algorithm; within rounding where the plan picks another — a
/// matrix-vector Dense at small batches, Winograd for a 16-channel layer), weights changed between calls are seen, the
/// thread count does not change a bit, and a warm call allocates nothing.
/// </summary>
[Collection(EngineSettingsCollection.Name)]
public class InferenceSessionTests
{
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var name in ModelZoo.Names) data.Add(name);
        return data;
    }

    private static float[] TrainingForward(Module model, float[] images, int batch)
    {
        bool training = model.IsTraining;
        model.Eval();
        try
        {
            using var x = Tensor.FromArray(images, ModelZoo.BatchInputShape(model.Name, batch));
            float[] logits;
            using (Tape.NoGrad()) logits = model.Forward(x).ToArray();
            Tape.Current.Reset();
            return logits;
        }
        finally
        {
            if (training) model.Train();
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Gives_the_training_forwards_logits_for_batch_1_to_9(string name)
    {
        var model = ModelZoo.Create(name, seed: 5);
        var session = InferenceSession.ForZooModel(model);
        var matching = InferenceSession.ForZooModel(model, new NativeConv.Tensors.Inference.InferenceOptions(MatchTrainingForward: true));
        Assert.True(session.IsCompiled, session.FallbackReason);
        int sample = ModelZoo.InputShape(name).Size;
        for (int batch = 1; batch <= 9; batch++)
        {
            var images = TestRandom.Uniform(batch * sample, 100 + batch, 0f, 1f);
            var expected = TrainingForward(model, images, batch);
            var actual = session.Run(images, batch);
            // Bitwise wherever the plan runs the training forward's algorithm in every layer (the inference rule may pick
            // Winograd for a layer training runs as im2col, and small batches run Dense as GEMV).
            if (session.Describe(batch).SequenceEqual(matching.Describe(batch)))
            {
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"{name} batch {batch}: not bitwise the training forward (max |Δ| {LogitTolerance.MaxDifference(expected, actual):E2})");
                continue;
            }
            LogitTolerance.WithinRounding(expected, actual, $"{name} batch {batch} against the training forward");
        }
    }

    [Fact]
    public void Batch_sizes_in_any_order_share_the_buffers_without_mixing_results()
    {
        var session = InferenceSession.ForZooModel(ModelZoo.Create("cifar-small", seed: 2));
        int sample = ModelZoo.InputShape("cifar-small").Size;
        var small = TestRandom.Uniform(2 * sample, 31, 0f, 1f);
        var large = TestRandom.Uniform(12 * sample, 32, 0f, 1f);
        var first = session.Run(small, 2);
        var big = session.Run(large, 12);   // grows the shared buffers
        Assert.Equal(first, session.Run(small, 2));
        Assert.Equal(big, session.Run(large, 12));
    }

    [Theory]
    [InlineData("fmnist-mlp")]
    [InlineData("fmnist-cnn")]
    [InlineData("cifar-small")]
    public void Matching_the_training_forward_gives_its_bits_at_every_batch_size(string name)
    {
        var model = ModelZoo.Create(name, seed: 9);
        var session = InferenceSession.ForZooModel(model, new NativeConv.Tensors.Inference.InferenceOptions(MatchTrainingForward: true));
        int sample = ModelZoo.InputShape(name).Size;
        for (int batch = 1; batch <= 6; batch++)
        {
            var images = TestRandom.Uniform(batch * sample, 40 + batch, 0f, 1f);
            Assert.True(TrainingForward(model, images, batch).AsSpan().SequenceEqual(session.Run(images, batch)), $"{name} batch {batch}");
        }
        Assert.DoesNotContain(session.Describe(1), line => line.Contains("gemv"));
    }

    [Fact]
    public void A_training_step_between_two_calls_is_seen_by_the_second()
    {
        var model = ModelZoo.Create("cifar-small", seed: 7);
        var session = InferenceSession.ForZooModel(model);
        int sample = ModelZoo.InputShape("cifar-small").Size;
        // Batch 2 (Dense as GEMV) and 6 (Dense as a GEMM), both on the weights packed per version.
        var images = TestRandom.Uniform(2 * sample, 8, 0f, 1f);
        var six = TestRandom.Uniform(6 * sample, 10, 0f, 1f);
        var before = session.Run(images, 2);
        var beforeSix = session.Run(six, 6);

        var adam = new Adam(model.Parameters(), lr: 0.05f);
        using (var x = Tensor.FromArray(TestRandom.Uniform(4 * sample, 9, 0f, 1f), ModelZoo.BatchInputShape("cifar-small", 4)))
        using (var labels = Tensor.FromArray([1f, 2f, 3f, 4f], new Shape(4)))
        {
            model.Train();
            var loss = Op.SoftmaxCrossEntropy(model.Forward(x), labels);
            loss.Backward();
            adam.Step();
            Tape.Current.Reset();
        }

        var after = session.Run(images, 2);
        Assert.False(before.AsSpan().SequenceEqual(after), "the logits did not change after a training step");
        var expected = TrainingForward(model, images, 2);
        LogitTolerance.WithinRounding(expected, after, "after a step, the session against the new weights' forward");
        var afterSix = session.Run(six, 6);
        Assert.False(beforeSix.AsSpan().SequenceEqual(afterSix), "the batch-6 logits did not change after a training step");
        var expectedSix = TrainingForward(model, six, 6);
        LogitTolerance.WithinRounding(expectedSix, afterSix, "after a step, the batch-6 logits against the new weights' forward");
    }

    [Fact]
    public void A_weight_loaded_from_outside_is_seen_by_the_next_call()
    {
        var model = ModelZoo.Create("cifar-medium", seed: 1);
        var session = InferenceSession.ForZooModel(model);
        int sample = ModelZoo.InputShape("cifar-medium").Size;
        var images = TestRandom.Uniform(sample, 3, 0f, 1f);
        session.Run(images, 1);
        var other = ModelZoo.Create("cifar-medium", seed: 2);
        for (int i = 0; i < model.Parameters().Count; i++)
            model.Parameters()[i].Value.CopyFrom(other.Parameters()[i].Value.ToArray());
        var expected = TrainingForward(other, images, 1);
        var actual = session.Run(images, 1);
        LogitTolerance.WithinRounding(expected, actual, "after loading other weights, the session against their forward");
    }

    [Theory]
    [InlineData("cifar-big", 1)]
    [InlineData("cifar-big", 3)]
    [InlineData("fmnist-cnn", 1)]
    [InlineData("fmnist-cnn-k5", 1)]
    [InlineData("fmnist-mlp", 2)]
    public void One_and_two_threads_give_the_same_bits(string name, int batch)
    {
        var model = ModelZoo.Create(name, seed: 4);
        var session = InferenceSession.ForZooModel(model);
        var images = TestRandom.Uniform(batch * ModelZoo.InputShape(name).Size, 6, 0f, 1f);
        int saved = Engine.Threads;
        try
        {
            Engine.Threads = 1;
            var one = session.Run(images, batch);
            Engine.Threads = 2;
            var two = session.Run(images, batch);
            Assert.True(one.AsSpan().SequenceEqual(two), $"{name} batch {batch}: 1 and 2 threads differ by {LogitTolerance.MaxDifference(one, two):E2}");
            if (name == "cifar-big" && batch == 1) // its big layers are shared between the threads inside the one image
                Assert.Contains(session.Describe(batch), line => line.Contains("conv 32→32") && line.Contains("split within images"));
        }
        finally
        {
            Engine.Threads = saved;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_warm_call_allocates_nothing_on_the_managed_heap(int threads)
    {
        int saved = Engine.Threads;
        try
        {
            Engine.Threads = threads;
            foreach (var name in new[] { "fmnist-mlp", "fmnist-cnn", "cifar-big" })
            foreach (int batch in new[] { 1, 8 })
            {
                var session = InferenceSession.ForZooModel(ModelZoo.Create(name, seed: 1));
                var images = TestRandom.Uniform(batch * ModelZoo.InputShape(name).Size, 2, 0f, 1f);
                var logits = new float[batch * session.Outputs];
                for (int i = 0; i < 3; i++) session.Run(images, batch, logits);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 5; i++) session.Run(images, batch, logits);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated == 0, $"{name} batch {batch}, {threads} threads: 5 warm calls allocated {allocated} bytes.");
            }
        }
        finally
        {
            Engine.Threads = saved;
        }
    }

    [Fact]
    public void Dropout_is_the_identity_whatever_the_training_flag()
    {
        var model = ModelZoo.Create("cifar-small", seed: 3);
        model.Train();
        var session = InferenceSession.ForZooModel(model, new NativeConv.Tensors.Inference.InferenceOptions(MatchTrainingForward: true));
        var images = TestRandom.Uniform(6 * ModelZoo.InputShape("cifar-small").Size, 4, 0f, 1f);
        Assert.Equal(TrainingForward(model, images, 6), session.Run(images, 6));
        Assert.True(model.IsTraining, "the session changed the model's training flag");
    }

    [Fact]
    public void Profile_times_each_step_of_the_plan_and_computes_what_run_does()
    {
        var model = ModelZoo.Create("fmnist-cnn", seed: 12);
        var session = InferenceSession.ForZooModel(model);
        var images = TestRandom.Uniform(3 * ModelZoo.InputShape("fmnist-cnn").Size, 6, 0f, 1f);
        var before = session.Run(images, 3);
        var steps = session.Profile(images, 3, calls: 4);
        Assert.Equal(session.Describe(3), steps.Select(s => s.Step));
        Assert.All(steps, s => Assert.True(s.Milliseconds >= 0 && double.IsFinite(s.Milliseconds), s.ToString()));
        Assert.True(steps.Sum(s => s.Milliseconds) > 0);
        Assert.Equal(before, session.Run(images, 3)); // profiling left the buffers and weights as they were
        Assert.Throws<ArgumentException>(() => session.Profile(images.AsSpan(1).ToArray(), 3, calls: 1));

        var fallback = new InferenceSession(new Sequential(new Flatten(), new Dense(12, 5), new Doubler(), new Dense(5, 3)), new Shape(3, 2, 2));
        var one = Assert.Single(fallback.Profile(TestRandom.Uniform(24, 2), 2, calls: 2));
        Assert.Contains("Doubler", one.Step);
    }

    private sealed class Doubler : Module
    {
        public Doubler() : base("doubler") { }
        public override Tensor Forward(Tensor x) => Op.Relu(x);
        public override Shape OutputShape(Shape input) => input;
    }

    [Fact]
    public void A_layer_without_an_inference_form_falls_back_to_the_models_forward()
    {
        var model = new Sequential(new Flatten(), new Dense(12, 5), new Doubler(), new Dense(5, 3));
        model.Initialize(1);
        var session = new InferenceSession(model, new Shape(3, 2, 2));
        Assert.False(session.IsCompiled);
        Assert.Contains("Doubler", session.FallbackReason);
        var images = TestRandom.Uniform(2 * 12, 5);
        using var x = Tensor.FromArray(images, new Shape(2, 3, 2, 2));
        float[] expected;
        using (Tape.NoGrad()) expected = model.Forward(x).ToArray();
        Tape.Current.Reset();
        Assert.Equal(expected, session.Run(images, 2));
        Assert.Equal(0, Tape.Current.TemporaryCount);
    }

    [Fact]
    public void Inputs_of_the_wrong_size_are_refused_with_the_sizes()
    {
        var session = InferenceSession.ForZooModel(ModelZoo.Create("fmnist-mlp", seed: 1));
        var e = Assert.Throws<ArgumentException>(() => session.Run(new float[700], 1));
        Assert.Contains("784", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Run(new float[0], 0));
    }
}
