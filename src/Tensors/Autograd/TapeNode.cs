namespace NativeConv.Tensors.Autograd;

/// <summary>
/// One recorded op: what its backward needs (inputs, output, settings) and the backward itself.
/// Nodes are pooled per op type, so recording a step allocates nothing once the pools are warm.
/// </summary>
public abstract class TapeNode
{
    /// <summary>The op's output; its <see cref="Tensor.Grad"/> is the upstream gradient.</summary>
    public Tensor Output { get; protected internal set; } = null!;

    /// <summary>Accumulates the gradients of the inputs that require them. Called only when Output.Grad is set.</summary>
    protected internal abstract void Backward(Tape tape);

    /// <summary>Drops references and returns the node to its pool.</summary>
    internal abstract void Recycle();
}

/// <summary>Base for a concrete node: gives it a per-type, per-thread pool.</summary>
public abstract class TapeNode<TSelf> : TapeNode where TSelf : TapeNode<TSelf>, new()
{
    [ThreadStatic] private static Stack<TSelf>? t_pool;

    /// <summary>A cleared node from the pool (or a new one while the pool warms up).</summary>
    public static TSelf Rent()
    {
        var pool = t_pool ??= new Stack<TSelf>();
        return pool.Count > 0 ? pool.Pop() : new TSelf();
    }

    /// <summary>Clear every reference field here so a pooled node keeps no tensor alive.</summary>
    protected abstract void Clear();

    internal sealed override void Recycle()
    {
        Output = null!;
        Clear();
        (t_pool ??= new Stack<TSelf>()).Push((TSelf)this);
    }
}
