namespace NativeConv.Tensors.Inference;

/// <summary>How a backend compiles a network for inference.</summary>
/// <param name="MatchTrainingForward">
/// Every layer computes exactly what the training path's forward computes (the same algorithms, hence the same bits at
/// every batch size): no matrix-vector Dense at small batches. For evaluations whose numbers must not depend on which path
/// ran them; the fused steps, prepared weights and reused buffers stay.
/// </param>
public sealed record InferenceOptions(bool MatchTrainingForward = false)
{
    public static InferenceOptions Default { get; } = new();
}

/// <summary>
/// A network compiled by a backend for forward passes only: no tape, no gradients, no training-only work. It keeps what
/// depends on the weights (transformed or packed copies) per weight version — a change to a weight tensor
/// (<see cref="Tensor.Version"/>) is seen on the next call, which rebuilds them — and what depends on the batch size
/// (the algorithm and split of each layer, the activation buffers) per batch size, made on first use and then reused:
/// a call after the first for a batch size allocates nothing. One call at a time (calls are serialised).
/// </summary>
public interface IInferenceProgram
{
    /// <summary>The input of one sample (e.g. (C, H, W)).</summary>
    Shape SampleShape { get; }

    /// <summary>Outputs per sample (the logits).</summary>
    int Outputs { get; }

    /// <summary>
    /// input (batch, SampleShape…) row-major → output (batch, Outputs). Throws a message naming the expected sizes when
    /// the spans do not fit.
    /// </summary>
    void Run(ReadOnlySpan<float> input, int batch, Span<float> output);

    /// <summary>
    /// <see cref="Run"/>, and adds the time each step took (<see cref="System.Diagnostics.Stopwatch"/> ticks) to
    /// <paramref name="stepTicks"/>, one entry per line of <see cref="Describe"/>: where a call's time goes.
    /// </summary>
    void RunTimed(ReadOnlySpan<float> input, int batch, Span<float> output, Span<long> stepTicks);

    /// <summary>What the program does at this batch size, one line per step (algorithms, splits, fusions).</summary>
    IReadOnlyList<string> Describe(int batch);
}
