using NativeConv.Layers;
using NativeConv.Tensors;

namespace NativeConv.Tests.Layers;

public class ModelZooTests
{
    [Theory]
    [InlineData("fmnist-mlp", 109_386)]
    [InlineData("fmnist-cnn", 206_922)]
    [InlineData("fmnist-cnn-k5", 215_370)]
    [InlineData("cifar-dense", 1_707_274)]
    [InlineData("cifar-small", 14_450)]
    [InlineData("cifar-medium", 44_762)]
    [InlineData("cifar-big", 157_226)]
    [InlineData("cifar-extra-big", 589_514)]
    public void Parameter_counts_match_the_keras_models(string name, long expected)
    {
        var model = ModelZoo.Create(name, seed: 1);
        Assert.Equal(expected, model.ParameterCount);
        long sum = 0;
        foreach (var p in model.Parameters()) sum += p.Value.Length;
        Assert.Equal(expected, sum);
    }

    [Fact]
    public void Names_are_the_eight_study_models()
    {
        Assert.Equal(
            ["fmnist-mlp", "fmnist-cnn", "fmnist-cnn-k5", "cifar-dense", "cifar-small", "cifar-medium", "cifar-big", "cifar-extra-big"],
            ModelZoo.Names);
        foreach (var name in ModelZoo.Names) Assert.False(string.IsNullOrWhiteSpace(ModelZoo.Description(name)));
    }

    [Theory]
    [InlineData("fmnist-mlp", 1, 28)]
    [InlineData("fmnist-cnn-k5", 1, 28)]
    [InlineData("cifar-dense", 3, 32)]
    [InlineData("cifar-extra-big", 3, 32)]
    public void Input_and_output_shapes(string name, int channels, int size)
    {
        Assert.Equal(new Shape(channels, size, size), ModelZoo.InputShape(name));
        var model = ModelZoo.Create(name, seed: 1);
        Assert.Equal(new Shape(5, ModelZoo.Classes), model.OutputShape(ModelZoo.BatchInputShape(name, 5)));
    }

    [Fact]
    public void Fashion_cnn_layer_shapes_follow_the_keras_summary()
    {
        var rows = ModelSummary.Rows(ModelZoo.Create("fmnist-cnn", 0), new Shape(1, 1, 28, 28));
        string Shape(string layer) => rows.Single(r => r.Name == layer).FormatShape();
        Assert.Equal("(None, 16, 28, 28)", Shape("conv1"));
        Assert.Equal("(None, 16, 14, 14)", Shape("pool1"));
        Assert.Equal("(None, 32, 7, 7)", Shape("pool2"));
        Assert.Equal("(None, 1568)", Shape("flatten1"));
        Assert.Equal("(None, 10)", Shape("dense2"));
        Assert.Equal(206_922, rows.Sum(r => r.Parameters));
    }

    [Fact]
    public void Cifar_cnn_parameters_have_hierarchical_names()
    {
        var names = ModelZoo.Create("cifar-small", 0).Parameters().Select(p => p.Name).ToArray();
        Assert.Equal(
            ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias", "conv4.weight", "conv4.bias",
             "conv5.weight", "conv5.bias", "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"],
            names);
        var model = ModelZoo.Create("cifar-small", 0);
        foreach (var p in model.Parameters())
        {
            Assert.Equal(p.Name, p.Value.Name);
            Assert.True(p.Value.RequiresGrad);
            Assert.False(p.Value.IsTemporary);
        }
    }

    [Fact]
    public void Same_seed_same_model_different_seed_different_model()
    {
        var a = ModelZoo.Create("cifar-small", 7).Parameters();
        var b = ModelZoo.Create("cifar-small", 7).Parameters();
        var c = ModelZoo.Create("cifar-small", 8).Parameters();
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Value.ToArray(), b[i].Value.ToArray());
            if (a[i].Role == ParameterRole.Weight) Assert.NotEqual(a[i].Value.ToArray(), c[i].Value.ToArray());
        }
    }

    [Fact]
    public void Unknown_model_lists_the_valid_names()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet-50", 0));
        Assert.Contains("resnet-50", ex.Message);
        foreach (var name in ModelZoo.Names) Assert.Contains(name, ex.Message);
    }
}
