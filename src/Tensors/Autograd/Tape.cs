using NativeConv.Tensors.Backends;

namespace NativeConv.Tensors.Autograd;

/// <summary>
/// Define-by-run reverse-mode autograd, and the arena of one step's temporaries.
///
/// Ops call <see cref="NewTemporary"/> for their outputs and <see cref="Record"/> for their backward; <see cref="Backward"/>
/// replays the recorded nodes in reverse, each accumulating into its inputs' gradients; <see cref="Reset"/> gives every
/// temporary (activations and their gradients) back to the pools. One tape per thread (<see cref="Current"/>).
///
/// A training step is: forward → loss.Backward() → optimizer.Step() → Tape.Current.Reset().
/// </summary>
public sealed class Tape
{
    [ThreadStatic] private static Tape? t_current;

    private readonly List<TapeNode> _nodes = new(64);
    private readonly List<Tensor> _temporaries = new(256);
    private readonly Stack<Tensor> _tensorPool = new();
    private int _noGradDepth;

    /// <summary>When set, every recorded op is timed forward and backward (see <see cref="StepProfiler"/>); null costs nothing.</summary>
    public StepProfiler? Profiler { get; set; }

    /// <summary>This thread's tape.</summary>
    public static Tape Current => t_current ??= new Tape();

    /// <summary>False inside a <see cref="NoGrad"/> scope: ops record nothing.</summary>
    public bool IsRecording => _noGradDepth == 0;

    /// <summary>Number of nodes waiting for a backward pass.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Number of live temporaries (freed by <see cref="Reset"/>).</summary>
    public int TemporaryCount => _temporaries.Count;

    /// <summary>Inference mode: ops inside the scope record no backward (their outputs are still temporaries).</summary>
    public static NoGradScope NoGrad() => new(Current);

    /// <summary>True if an op with these inputs must record its backward.</summary>
    public bool NeedsGrad(Tensor a) => IsRecording && a.RequiresGrad;
    public bool NeedsGrad(Tensor a, Tensor? b) => IsRecording && (a.RequiresGrad || (b?.RequiresGrad ?? false));
    public bool NeedsGrad(Tensor a, Tensor? b, Tensor? c) =>
        IsRecording && (a.RequiresGrad || (b?.RequiresGrad ?? false) || (c?.RequiresGrad ?? false));

    /// <summary>A temporary of <paramref name="shape"/> on <paramref name="backend"/>, contents undefined; freed at <see cref="Reset"/>.</summary>
    public Tensor NewTemporary(Shape shape, IBackend backend)
    {
        var t = _tensorPool.Count > 0 ? _tensorPool.Pop() : new Tensor();
        t.Attach(shape, backend.Allocate(shape.Size), ownsStorage: true, temporary: true);
        _temporaries.Add(t);
        return t;
    }

    /// <summary>A temporary filled with zeros.</summary>
    public Tensor NewZeros(Shape shape, IBackend backend)
    {
        var t = NewTemporary(shape, backend);
        backend.Fill(t, 0f);
        return t;
    }

    /// <summary>A temporary that views <paramref name="source"/>'s storage with another shape of the same size (reshape, flatten).</summary>
    public Tensor NewView(Tensor source, Shape shape)
    {
        if (shape.Size != source.Length)
            throw new ArgumentException($"Reshape: cannot view {source.Describe()} ({source.Length} elements) as {shape} ({shape.Size} elements).");
        var t = _tensorPool.Count > 0 ? _tensorPool.Pop() : new Tensor();
        t.Attach(shape, source.Storage, ownsStorage: false, temporary: true);
        _temporaries.Add(t);
        return t;
    }

    /// <summary>Appends a node; its output will require grad.</summary>
    public void Record(TapeNode node)
    {
        node.Output.RequiresGrad = true;
        _nodes.Add(node);
        Profiler?.OnRecorded(node);
    }

    /// <summary>
    /// The gradient tensor of <paramref name="t"/>, created zeroed on first use: a temporary for temporaries, persistent for
    /// parameters and inputs (zeroed by the optimiser's ZeroGrad). Backward kernels accumulate into it.
    /// </summary>
    public Tensor GradOf(Tensor t)
    {
        if (t.Grad is { } g) return g;
        g = t.IsTemporary ? NewZeros(t.Shape, t.Backend) : Tensor.Zeros(t.Shape, t.Backend);
        t.Grad = g;
        return g;
    }

    /// <summary>
    /// The gradient tensor of <paramref name="t"/> for a backward that can write it whole: when this is its first
    /// contribution and <paramref name="t"/> is a temporary, a fresh UNINITIALISED tensor and <paramref name="accumulate"/>
    /// false — the caller must overwrite every element — which saves the zero fill and the kernel's read of it. Otherwise
    /// <see cref="GradOf"/> and <paramref name="accumulate"/> true.
    /// </summary>
    public Tensor GradForOverwrite(Tensor t, out bool accumulate)
    {
        accumulate = t.Grad is not null || !t.IsTemporary;
        if (accumulate) return GradOf(t);
        var g = NewTemporary(t.Shape, t.Backend);
        t.Grad = g;
        return g;
    }

    /// <summary>
    /// Runs the recorded nodes in reverse from <paramref name="root"/>. A scalar root gets upstream gradient 1; any other root
    /// needs <paramref name="seed"/> (same shape), which makes this a vector–Jacobian product. The recorded nodes are consumed.
    /// </summary>
    public void Backward(Tensor root, Tensor? seed = null)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward: {root.Describe()} does not require grad — no op that produced it had a parameter or input with RequiresGrad = true, or it was computed under Tape.NoGrad().");
        var rootGrad = GradOf(root);
        if (seed is null)
        {
            if (root.Length != 1)
                throw new ArgumentException($"Backward: {root.Describe()} has {root.Length} elements; pass a seed gradient of the same shape, or reduce it to a scalar loss first.");
            root.Backend.Fill(rootGrad, 1f);
        }
        else
        {
            if (seed.Shape != root.Shape)
                throw new ArgumentException($"Backward: seed {seed.Shape} does not match {root.Describe()}.");
            root.Backend.Axpy(1f, seed, rootGrad);
        }

        var profiler = Profiler;
        for (int i = _nodes.Count - 1; i >= 0; i--)
        {
            var node = _nodes[i];
            if (node.Output.Grad is null) continue;
            if (profiler is null)
            {
                node.Backward(this);
            }
            else
            {
                long started = profiler.BeforeBackward(node);
                node.Backward(this);
                profiler.AfterBackward(i, node, started);
            }
        }
        RecycleNodes();
    }

    /// <summary>Frees every temporary of the step (and any nodes not yet consumed). Tensors from this step must not be used afterwards.</summary>
    public void Reset()
    {
        RecycleNodes();
        foreach (var t in _temporaries)
        {
            t.ReleaseTemporary();
            _tensorPool.Push(t);
        }
        _temporaries.Clear();
    }

    private void RecycleNodes()
    {
        foreach (var node in _nodes) node.Recycle();
        _nodes.Clear();
    }

    internal void EnterNoGrad() => _noGradDepth++;
    internal void ExitNoGrad() => _noGradDepth--;
}

/// <summary>Scope returned by <see cref="Tape.NoGrad"/>; dispose to resume recording.</summary>
public readonly struct NoGradScope : IDisposable
{
    private readonly Tape _tape;

    internal NoGradScope(Tape tape)
    {
        _tape = tape;
        tape.EnterNoGrad();
    }

    public void Dispose() => _tape.ExitNoGrad();
}
