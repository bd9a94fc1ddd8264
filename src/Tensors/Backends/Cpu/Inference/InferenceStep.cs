namespace NativeConv.Tensors.Backends.Cpu.Inference;

/// <summary>
/// One step of a compiled CPU inference program: sample shapes in and out (without the batch axis), what depends on the
/// weights (<see cref="Refresh"/>) and what depends on the batch size (<see cref="PlanFor"/>, made once per batch size
/// and kept by the program).
/// </summary>
internal abstract class InferenceStep(string name, Shape input, Shape output)
{
    public string Name { get; } = name;
    public Shape Input { get; } = input;
    public Shape Output { get; } = output;

    /// <summary>Rebuilds what is derived from the weights if a weight changed since the last call (cheap when none did).</summary>
    public virtual void Refresh() { }

    /// <summary>The step's decisions for this batch size (null when it has none).</summary>
    public virtual object? PlanFor(int batch) => null;

    /// <summary>x (batch, Input) → y (batch, Output), overwritten.</summary>
    public abstract void Run(ReadOnlySpan<float> x, Span<float> y, int batch, object? plan);

    /// <summary>One line: the step and what it does at this batch size.</summary>
    public virtual string Describe(int batch, object? plan) => $"{Name}: {Input} → {Output}";
}
