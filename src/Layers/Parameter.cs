using NativeConv.Tensors;
using NativeConv.Tensors.Backends;

namespace NativeConv.Layers;

/// <summary>What a parameter is for: decides how <see cref="Init.Glorot"/> fills it.</summary>
public enum ParameterRole
{
    /// <summary>A weight matrix or kernel: Glorot uniform from its fans.</summary>
    Weight,
    /// <summary>A bias: zeros.</summary>
    Bias,
}

/// <summary>
/// A trainable tensor of a module. <see cref="Value"/> is persistent (never a tape temporary), has RequiresGrad = true and
/// carries the parameter's hierarchical <see cref="Name"/> (e.g. "conv1.weight"), which checkpoints and messages use.
/// </summary>
public sealed class Parameter
{
    internal Parameter(string localName, Shape shape, ParameterRole role, int fanIn, int fanOut, IBackend? backend)
    {
        LocalName = localName;
        Name = localName;
        Role = role;
        FanIn = fanIn;
        FanOut = fanOut;
        Value = Tensor.Zeros(shape, backend);
        Value.RequiresGrad = true;
        Value.Name = localName;
    }

    /// <summary>The full name from the root module, e.g. "conv1.weight" (just "weight" for a module used on its own).</summary>
    public string Name { get; private set; }

    /// <summary>The name inside its own module ("weight", "bias").</summary>
    public string LocalName { get; }

    /// <summary>The values; persistent, RequiresGrad = true. Its <see cref="Tensor.Grad"/> is filled by backward passes.</summary>
    public Tensor Value { get; private set; }

    public Shape Shape => Value.Shape;

    public ParameterRole Role { get; }

    /// <summary>Inputs feeding each output unit (Dense: in; Conv2D: C·KH·KW), for initialisation.</summary>
    public int FanIn { get; }

    /// <summary>Outputs each input unit feeds (Dense: out; Conv2D: OC·KH·KW), for initialisation.</summary>
    public int FanOut { get; }

    /// <summary>The accumulated gradient, or null before the first backward pass reached it.</summary>
    public Tensor? Grad => Value.Grad;

    public override string ToString() => $"{Name} {Shape}";

    internal void SetName(string name)
    {
        Name = name;
        Value.Name = name;
    }

    /// <summary>Moves the values to <paramref name="backend"/> (the gradient is dropped; optimisers must be created afterwards).</summary>
    internal void MoveTo(IBackend backend)
    {
        if (ReferenceEquals(Value.Backend, backend)) return;
        var moved = Value.Clone(backend);
        moved.RequiresGrad = true;
        moved.Name = Name;
        Value.Dispose();
        Value = moved;
    }
}
