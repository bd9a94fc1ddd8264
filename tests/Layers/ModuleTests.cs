using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Layers;

public class ModuleTests
{
    [Fact]
    public void Standalone_layer_has_local_parameter_names_and_nesting_prefixes_them()
    {
        var dense = new Dense(3, 4);
        Assert.Equal(["weight", "bias"], dense.Parameters().Select(p => p.Name));
        var inner = new Sequential(dense, new ReLU());
        Assert.Equal(["dense1.weight", "dense1.bias"], inner.Parameters().Select(p => p.Name));
        var outer = new Sequential();
        outer.Add("block", inner);
        Assert.Equal(["block.dense1.weight", "block.dense1.bias"], outer.Parameters().Select(p => p.Name));
        Assert.Equal("block.dense1.weight", dense.Weight.Value.Name);
    }

    [Fact]
    public void Modules_and_parameters_can_be_found_by_name()
    {
        var model = ModelZoo.Create("cifar-small", 0);
        Assert.Same(model.Parameters()[2], model.FindParameter("conv2.weight"));
        Assert.Null(model.FindParameter("conv9.weight"));
        var modules = model.Modules().ToList();
        Assert.Same(model, modules[0]);
        Assert.Single(modules.OfType<Dropout>());
        Assert.Equal(5, modules.OfType<Conv2D>().Count());
    }

    [Fact]
    public void Parameters_list_is_cached_and_updated_when_layers_are_added()
    {
        var model = new Sequential(new Dense(2, 3));
        var first = model.Parameters();
        Assert.Same(first, model.Parameters());
        model.Add(new Dense(3, 1, useBias: false));
        Assert.Equal(3, model.Parameters().Count);
        Assert.Equal(2 * 3 + 3 + 3, model.ParameterCount);
    }

    [Fact]
    public void Layer_names_must_be_unique_and_a_layer_has_one_parent()
    {
        var relu = new ReLU();
        var model = new Sequential(relu);
        Assert.Throws<ArgumentException>(() => model.Add("relu1", new ReLU()));
        Assert.Throws<InvalidOperationException>(() => new Sequential(relu));
        Assert.Throws<ArgumentException>(() => model.Add("a.b", new ReLU()));
    }

    [Fact]
    public void Train_and_eval_are_recursive()
    {
        var dropout = new Dropout(0.5f);
        var model = new Sequential(new Sequential(dropout), new ReLU());
        Assert.True(dropout.IsTraining);
        model.Eval();
        Assert.False(dropout.IsTraining);
        Assert.False(model.IsTraining);
        model.Train();
        Assert.True(dropout.IsTraining);
    }

    [Fact]
    public void Dropout_in_eval_is_the_identity_and_does_not_advance_its_counter()
    {
        var dropout = new Dropout(0.5f, seed: 3);
        dropout.Eval();
        using var x = Tensor.FromArray(TestRandom.Uniform(12, 1), new Shape(3, 4));
        Assert.Same(x, dropout.Forward(x));
        Assert.Equal(0, dropout.CallCount);
        Tape.Current.Reset();
    }

    [Fact]
    public void Dense_rejects_wrong_input_with_a_helpful_message()
    {
        var dense = new Dense(5, 2) { };
        var ex = Assert.Throws<ArgumentException>(() => dense.OutputShape(new Shape(4, 6)));
        Assert.Contains("(N, 5)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => dense.OutputShape(new Shape(4, 1, 5, 1)));
        Assert.Contains("Flatten", ex.Message);
    }

    [Fact]
    public void Layer_output_shapes()
    {
        var x = new Shape(2, 3, 9, 9);
        Assert.Equal(new Shape(2, 4, 9, 9), new Conv2D(3, 4, 3).OutputShape(x));
        Assert.Equal(new Shape(2, 4, 7, 7), new Conv2D(3, 4, 3, padding: Padding.Valid).OutputShape(x));
        Assert.Equal(new Shape(2, 4, 5, 5), new Conv2D(3, 4, 3, stride: 2).OutputShape(x));
        Assert.Equal(new Shape(2, 3, 4, 4), new MaxPool2D(2).OutputShape(x));
        Assert.Equal(new Shape(2, 3, 4, 4), new MaxPool2D(3, 2).OutputShape(x));
        Assert.Equal(new Shape(2, 3), new GlobalAvgPool2D().OutputShape(x));
        Assert.Equal(new Shape(2, 243), new Flatten().OutputShape(x));
        Assert.Equal(x, new ReLU().OutputShape(x));
        Assert.Throws<ArgumentException>(() => new Conv2D(2, 4, 3).OutputShape(x));
    }

    [Fact]
    public void Conv2D_weight_layout_and_fans()
    {
        var conv = new Conv2D(3, 8, 5);
        Assert.Equal(new Shape(8, 3, 5, 5), conv.Weight.Shape);
        Assert.Equal(new Shape(8), conv.Bias!.Shape);
        Assert.Equal(3 * 25, conv.Weight.FanIn);
        Assert.Equal(8 * 25, conv.Weight.FanOut);
        Assert.Equal(Padding.Same, conv.Padding);
    }
}
