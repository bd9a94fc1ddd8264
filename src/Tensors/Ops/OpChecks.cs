namespace NativeConv.Tensors.Ops;

/// <summary>Checks every op runs at its door, with messages that name the op, what was found and the fix.</summary>
internal static class OpChecks
{
    public static void SameBackend(string op, Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new ArgumentException($"{op}: {a.Describe()} is on {a.Backend.Name} but {b.Describe()} is on {b.Backend.Name}; move both to one device (Tensor.Clone(backend)).");
    }

    public static void Rank(string op, string what, Tensor t, int rank, string layout)
    {
        if (t.Shape.Rank != rank)
            throw new ArgumentException($"{op}: {what} must be rank {rank} {layout}; got {t.Describe()}.");
    }

    public static void NonEmptyBatch(string op, Tensor t)
    {
        if (t.Shape.Rank == 0 || t.Shape[0] == 0)
            throw new ArgumentException($"{op}: the batch is empty ({t.Describe()}); pass at least one sample.");
    }
}
