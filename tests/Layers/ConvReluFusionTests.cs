using NativeConv.Layers;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Layers;

/// <summary>
/// Sequential's Conv2D → ReLU fusion (Engine.FuseConvRelu) is an execution detail: on or off, a model trains along the
/// bitwise-same trajectory and keeps its layers and parameter names. (Runs alone: it flips a process-wide switch.)
/// </summary>
[Collection(EngineSettingsCollection.Name)]
public class ConvReluFusionTests
{
    private const int Batch = 4;

    [Theory]
    [InlineData("fmnist-cnn", 1)]
    [InlineData("fmnist-cnn", 2)]
    [InlineData("cifar-small", 2)]
    public void Training_with_and_without_fusion_follows_the_same_trajectory(string modelName, int threads)
    {
        var (fusedLosses, fusedWeights, fusedNodes) = Train(modelName, threads, fuse: true);
        var (plainLosses, plainWeights, plainNodes) = Train(modelName, threads, fuse: false);

        // The fusion did happen: one tape node per Conv2D + ReLU pair instead of two.
        int pairs = CountConvReluPairs((Sequential)ModelZoo.Create(modelName, seed: 1));
        Assert.True(pairs > 0);
        Assert.Equal(plainNodes - pairs, fusedNodes);

        Assert.Equal(plainLosses, fusedLosses); // exact float equality, step by step
        for (int i = 0; i < plainWeights.Length; i++)
            Kernels.Conv2DReluFusionTests.AssertBitwise(plainWeights[i], fusedWeights[i], $"{modelName} parameter {i} after training");
    }

    [Fact]
    public void Eval_forward_is_fused_too_and_gives_the_same_logits()
    {
        bool saved = Engine.FuseConvRelu;
        try
        {
            var model = ModelZoo.Create("fmnist-cnn", seed: 3);
            model.Eval();
            using var x = Tensor.FromArray(TestRandom.Uniform(Batch * 28 * 28, 4), ModelZoo.BatchInputShape("fmnist-cnn", Batch));
            var logits = new float[2][];
            var temporaries = new int[2];
            for (int f = 0; f < 2; f++)
            {
                Engine.FuseConvRelu = f == 1;
                using (Tape.NoGrad())
                {
                    logits[f] = model.Forward(x).ToArray();
                    temporaries[f] = Tape.Current.TemporaryCount;
                }
                Tape.Current.Reset();
            }
            Kernels.Conv2DReluFusionTests.AssertBitwise(logits[0], logits[1], "eval logits");
            Assert.Equal(temporaries[0] - 2, temporaries[1]); // two pre-activation tensors fewer
        }
        finally
        {
            Engine.FuseConvRelu = saved;
        }
    }

    [Fact]
    public void Fusion_changes_neither_the_layers_nor_the_parameter_names()
    {
        bool saved = Engine.FuseConvRelu;
        try
        {
            var model = (Sequential)ModelZoo.Create("cifar-small", seed: 1);
            var layersBefore = model.Layers.Select(l => l.Name).ToArray();
            var paramsBefore = model.Parameters().Select(p => p.Name).ToArray();
            using var x = Tensor.FromArray(TestRandom.Uniform(2 * 3 * 32 * 32, 1), ModelZoo.BatchInputShape("cifar-small", 2));
            Engine.FuseConvRelu = true;
            model.Forward(x);
            Tape.Current.Reset();
            Assert.Equal(layersBefore, model.Layers.Select(l => l.Name).ToArray());
            Assert.Equal(paramsBefore, model.Parameters().Select(p => p.Name).ToArray());
            Assert.Contains(model.Layers, l => l is ReLU);
        }
        finally
        {
            Engine.FuseConvRelu = saved;
        }
    }

    private static int CountConvReluPairs(Sequential model)
    {
        int pairs = 0;
        for (int i = 0; i + 1 < model.Layers.Count; i++)
            if (model.Layers[i] is Conv2D && model.Layers[i + 1] is ReLU) pairs++;
        return pairs;
    }

    private static (float[] Losses, float[][] Weights, int Nodes) Train(string modelName, int threads, bool fuse)
    {
        int savedThreads = Engine.Threads;
        bool savedFuse = Engine.FuseConvRelu;
        Engine.Threads = threads;
        Engine.FuseConvRelu = fuse;
        try
        {
            var model = ModelZoo.Create(modelName, seed: 7);
            var adam = new Adam(model.Parameters(), lr: 3e-3f);
            var shape = ModelZoo.BatchInputShape(modelName, Batch);
            using var x = Tensor.FromArray(TestRandom.Uniform(shape.Size, 8), shape);
            using var labels = Tensor.FromArray([0f, 3f, 7f, 9f], new Shape(Batch));
            var losses = new float[4];
            int nodes = 0;
            for (int step = 0; step < losses.Length; step++)
            {
                adam.ZeroGrad();
                var loss = Op.SoftmaxCrossEntropy(model.Forward(x), labels);
                nodes = Tape.Current.NodeCount;
                loss.Backward();
                adam.Step();
                losses[step] = loss.Item();
                Tape.Current.Reset();
            }
            return (losses, model.Parameters().Select(p => p.Value.ToArray()).ToArray(), nodes);
        }
        finally
        {
            Engine.Threads = savedThreads;
            Engine.FuseConvRelu = savedFuse;
        }
    }
}
