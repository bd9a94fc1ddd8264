using NativeConv.Tensors;

namespace NativeConv.Layers;

/// <summary>
/// Layers applied in order. Layers added without a name are numbered per kind, Keras style but 1-based:
/// conv1, conv2, pool1, dense1, ... so parameters read "conv1.weight".
/// </summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = new();
    private readonly Dictionary<string, int> _kindCounts = new();

    public Sequential(params Module[] layers) : base("sequential")
    {
        foreach (var layer in layers) Add(layer);
    }

    /// <summary>The layers in forward order.</summary>
    public IReadOnlyList<Module> Layers => _layers;

    /// <summary>Appends a layer named after its kind and position ("dense" → "dense1", "dense2", ...).</summary>
    public Sequential Add(Module layer)
    {
        string kind = layer.Name;
        _kindCounts.TryGetValue(kind, out int count);
        string name;
        do { count++; name = kind + count.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        while (Contains(name));
        _kindCounts[kind] = count;
        return Add(name, layer);
    }

    /// <summary>Appends a layer under an explicit, unique name.</summary>
    public Sequential Add(string name, Module layer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Contains('.'))
            throw new ArgumentException($"Sequential '{Name}': layer name '{name}' must not contain '.', which separates levels in parameter names.");
        if (Contains(name))
            throw new ArgumentException($"Sequential '{Name}' already has a layer named '{name}'; layer names must be unique.");
        Adopt(layer, name);
        _layers.Add(layer);
        return this;
    }

    public override Tensor Forward(Tensor x)
    {
        // A plain indexed loop: no enumerator on the hot path.
        bool fuse = Engine.FuseConvRelu;
        for (int i = 0; i < _layers.Count; i++)
        {
            // Conv2D then ReLU runs as the one fused op (Engine.FuseConvRelu): the same numbers without the ReLU's own
            // tensor, gradient and passes over memory. The layer list itself is untouched.
            if (fuse && _layers[i] is Conv2D conv && i + 1 < _layers.Count && _layers[i + 1] is ReLU)
            {
                x = conv.ForwardRelu(x);
                i++;
                continue;
            }
            x = _layers[i].Forward(x);
        }
        return x;
    }

    public override Shape OutputShape(Shape input)
    {
        for (int i = 0; i < _layers.Count; i++) input = _layers[i].OutputShape(input);
        return input;
    }

    public override IEnumerable<Module> Children() => _layers;

    private bool Contains(string name)
    {
        foreach (var layer in _layers)
            if (layer.Name == name) return true;
        return false;
    }
}
