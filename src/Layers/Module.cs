using NativeConv.Tensors;
using NativeConv.Tensors.Backends;

namespace NativeConv.Layers;

/// <summary>
/// A layer or a container of layers. A module holds parameters and calls ops; it never touches kernels.
///
/// Shapes given to <see cref="Forward"/> and <see cref="OutputShape"/> include the batch axis (images NCHW).
/// Parameter names are hierarchical from the root module: a Dense named "dense1" inside a Sequential owns
/// "dense1.weight" and "dense1.bias".
/// </summary>
public abstract class Module
{
    private readonly List<Parameter> _own = new(2);
    private Parameter[]? _allParameters;

    protected Module(string defaultName)
    {
        Name = defaultName;
    }

    /// <summary>The name of this module inside its parent ("conv1"); for a root module only a label.</summary>
    public string Name { get; internal set; }

    /// <summary>The container holding this module, or null for a root.</summary>
    public Module? Parent { get; private set; }

    /// <summary>Training mode (dropout active). Modules start in training mode, as Keras layers called by fit().</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Switches this module and every descendant to training mode.</summary>
    public void Train() => SetTraining(true);

    /// <summary>Switches this module and every descendant to inference mode (dropout becomes the identity).</summary>
    public void Eval() => SetTraining(false);

    /// <summary>Runs the layer on a batch; records the backward on the current tape when anything requires grad.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>The output shape for an input shape (both with the batch axis); throws if the input does not fit.</summary>
    public abstract Shape OutputShape(Shape input);

    /// <summary>Direct sub-modules, in forward order.</summary>
    public virtual IEnumerable<Module> Children() => Array.Empty<Module>();

    /// <summary>The parameters owned by this module itself (not its children).</summary>
    public IReadOnlyList<Parameter> OwnParameters => _own;

    /// <summary>Every parameter of this module and its descendants, depth first in forward order (built once, then cached).</summary>
    public IReadOnlyList<Parameter> Parameters()
    {
        if (_allParameters is null)
        {
            var all = new List<Parameter>();
            Collect(this, all);
            _allParameters = all.ToArray();
        }
        return _allParameters;
    }

    /// <summary>The parameter with full name <paramref name="name"/> ("conv1.weight"), or null.</summary>
    public Parameter? FindParameter(string name)
    {
        foreach (var p in Parameters())
            if (p.Name == name) return p;
        return null;
    }

    /// <summary>This module and every descendant, depth first in forward order (e.g. to find the Dropout layers whose
    /// call counters a checkpoint keeps).</summary>
    public IEnumerable<Module> Modules()
    {
        yield return this;
        foreach (var child in Children())
            foreach (var m in child.Modules()) yield return m;
    }

    /// <summary>Number of trainable scalars in this module and its descendants.</summary>
    public long ParameterCount
    {
        get
        {
            long count = 0;
            foreach (var p in Parameters()) count += p.Shape.Size;
            return count;
        }
    }

    /// <summary>The backend the parameters live on (the default backend for a module without parameters).</summary>
    public IBackend Backend
    {
        get
        {
            var ps = Parameters();
            return ps.Count > 0 ? ps[0].Value.Backend : Engine.DefaultBackend;
        }
    }

    /// <summary>Moves every parameter to <paramref name="backend"/>. Create the optimiser after moving the model.</summary>
    public void To(IBackend backend)
    {
        foreach (var p in Parameters()) p.MoveTo(backend);
    }

    /// <summary>Re-draws every parameter from one seed: Glorot-uniform weights, zero biases (see <see cref="Init.Glorot"/>).</summary>
    public void Initialize(int seed) => Init.Glorot.Initialize(this, seed);

    public override string ToString() => $"{Name} ({GetType().Name})";

    // ---------------------------------------------------------------- for subclasses

    /// <summary>
    /// Creates and registers a parameter of this module on the default backend. Weights start Glorot-uniform from seed 0
    /// and their local name, so a fresh layer is usable at once; <see cref="Initialize"/> (which the model zoo calls)
    /// re-draws them from the model's seed and full names.
    /// </summary>
    protected Parameter AddParameter(string localName, Shape shape, ParameterRole role, int fanIn = 0, int fanOut = 0)
    {
        if (role == ParameterRole.Weight && fanIn + fanOut <= 0)
            throw new ArgumentException($"{GetType().Name}: weight '{localName}' needs its fans for initialisation.");
        var p = new Parameter(localName, shape, role, fanIn, fanOut, Engine.DefaultBackend);
        _own.Add(p);
        p.SetName(ParameterPrefix() + localName);
        InvalidateParameterCache();
        if (role == ParameterRole.Weight) Init.Glorot.Initialize(p, seed: 0);
        return p;
    }

    /// <summary>Makes <paramref name="child"/> a sub-module named <paramref name="name"/> (renames its parameters).</summary>
    protected void Adopt(Module child, string name)
    {
        if (child.Parent is not null)
            throw new InvalidOperationException($"Module '{child.Name}' ({child.GetType().Name}) already belongs to '{child.Parent.Name}'; create a new layer instead of sharing one.");
        if (ReferenceEquals(child, this))
            throw new InvalidOperationException($"Module '{Name}' cannot contain itself.");
        child.Parent = this;
        child.Name = name;
        child.RefreshNames();
        InvalidateParameterCache();
    }

    // ---------------------------------------------------------------- internals

    private string ParameterPrefix()
    {
        if (Parent is null) return "";
        return Parent.ParameterPrefix() + Name + ".";
    }

    private void RefreshNames()
    {
        string prefix = ParameterPrefix();
        foreach (var p in _own) p.SetName(prefix + p.LocalName);
        foreach (var child in Children()) child.RefreshNames();
    }

    private void InvalidateParameterCache()
    {
        for (var m = this; m is not null; m = m.Parent) m._allParameters = null;
    }

    private static void Collect(Module module, List<Parameter> into)
    {
        into.AddRange(module._own);
        foreach (var child in module.Children()) Collect(child, into);
    }

    private void SetTraining(bool training)
    {
        IsTraining = training;
        foreach (var child in Children()) child.SetTraining(training);
    }

    /// <summary>Throws unless <paramref name="input"/> has <paramref name="rank"/> dimensions (for OutputShape/Forward checks).</summary>
    protected void RequireRank(Shape input, int rank, string layout)
    {
        if (input.Rank != rank)
            throw new ArgumentException($"{GetType().Name} '{Name}': input must be rank {rank} {layout}; got {input}.");
    }
}
