using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Inference;

namespace NativeConv.Layers.Inference;

/// <summary>
/// Forward passes of a model for prediction: images in, logits out, with inference-mode semantics (dropout is the
/// identity) whatever the model's training flag. The model is described layer by layer to its backend, which compiles it
/// (<see cref="IBackend.CompileInference"/>: on the CPU, fused conv + ReLU + max-pool steps, Winograd weights transformed
/// once per weight version, small batches split within each image, activation buffers reused: no allocation per call
/// after the first at a batch size). Training the model between calls is fine: a changed weight is seen on the next call
/// (<see cref="Tensor.Version"/>), and moving the model to another backend recompiles it. Where the backend has no
/// compiler (the GPU) or the model has a layer without an inference form, the session runs the model's own forward under
/// <see cref="Tape.NoGrad"/> instead (<see cref="FallbackReason"/> says why).
///
/// Results: the same logits as <c>model.Forward</c> in eval mode up to float rounding — bitwise where a layer runs the same
/// algorithm, within ~1e-6 relative where the plan picks another (a matrix-vector product at batch ≤ 4, for example).
/// One call at a time per session (calls are serialised); use one session per thread for parallel callers.
/// </summary>
public sealed class InferenceSession
{
    private readonly Lock _gate = new();
    private IInferenceProgram? _program;
    private Tensor[] _compiledFor = [];
    private IBackend? _compiledOn;
    private Tensor? _fallbackInput;
    private readonly InferenceOptions _options;

    /// <param name="model">The model; a <see cref="Sequential"/> of the engine's layers compiles, anything else falls back.</param>
    /// <param name="sampleShape">One input sample without the batch axis, e.g. (1, 28, 28).</param>
    /// <param name="options">How to compile (null: the default — the fastest path, within rounding of the training forward).</param>
    public InferenceSession(Module model, Shape sampleShape, InferenceOptions? options = null)
    {
        _options = options ?? InferenceOptions.Default;
        ArgumentNullException.ThrowIfNull(model);
        if (sampleShape.Rank < 1 || sampleShape.Size < 1)
            throw new ArgumentException($"InferenceSession: the sample shape {sampleShape} must have at least one element.", nameof(sampleShape));
        Model = model;
        SampleShape = sampleShape;
        var output = model.OutputShape(Batched(sampleShape, 1)); // throws a message naming the layer that does not fit
        if (output.Rank != 2)
            throw new ArgumentException($"InferenceSession: model '{model.Name}' gives {output} per batch; a classifier gives (N, classes).");
        Outputs = output[1];
        Compile();
    }

    /// <summary>A session for a model of the study zoo (its input shape from <see cref="ModelZoo.InputShape"/>).</summary>
    public static InferenceSession ForZooModel(Module model, InferenceOptions? options = null) =>
        new(model, ModelZoo.InputShape(model.Name), options);

    public Module Model { get; }

    /// <summary>One input sample without the batch axis.</summary>
    public Shape SampleShape { get; }

    /// <summary>Logits per sample.</summary>
    public int Outputs { get; }

    /// <summary>True when the backend compiled the model; false when calls run the model's own forward.</summary>
    public bool IsCompiled
    {
        get { lock (_gate) return _program is not null; }
    }

    /// <summary>Why calls run the model's own forward (null when compiled).</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>images (batch, SampleShape…) row-major, pixels as in training → logits (batch, Outputs).</summary>
    public void Run(ReadOnlySpan<float> images, int batch, Span<float> logits)
    {
        if (batch < 1)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "InferenceSession: the batch must hold at least one sample.");
        if (images.Length != (long)batch * SampleShape.Size || logits.Length < (long)batch * Outputs)
            throw new ArgumentException($"InferenceSession: a batch of {batch} samples of {SampleShape} is {(long)batch * SampleShape.Size} floats with {(long)batch * Outputs} logits; got {images.Length} floats and room for {logits.Length} logits.");
        lock (_gate)
        {
            if (ParametersMoved()) Compile();
            if (_program is not null) _program.Run(images, batch, logits);
            else RunModelForward(images, batch, logits);
        }
    }

    /// <summary>Logits of a batch as a new array (convenience; <see cref="Run(ReadOnlySpan{float}, int, Span{float})"/> allocates nothing).</summary>
    public float[] Run(ReadOnlySpan<float> images, int batch)
    {
        var logits = new float[batch * Outputs];
        Run(images, batch, logits);
        return logits;
    }

    /// <summary>
    /// Where a call's time goes: runs <paramref name="calls"/> calls on <paramref name="images"/> and returns, per line of
    /// <see cref="Describe"/>, the mean milliseconds of that step in a call (the fallback is one step: the whole forward).
    /// </summary>
    public IReadOnlyList<(string Step, double Milliseconds)> Profile(ReadOnlySpan<float> images, int batch, int calls)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(calls, 1);
        var logits = new float[batch * Outputs];
        Run(images, batch, logits); // validates the sizes, compiles if needed, makes the plan for this batch size
        IReadOnlyList<string> lines;
        long[] ticks;
        lock (_gate)
        {
            lines = Describe(batch);
            ticks = new long[lines.Count];
            for (int call = 0; call < calls; call++)
            {
                if (_program is not null)
                {
                    _program.RunTimed(images, batch, logits, ticks);
                    continue;
                }
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                RunModelForward(images, batch, logits);
                ticks[0] += System.Diagnostics.Stopwatch.GetTimestamp() - started;
            }
        }
        var result = new (string, double)[lines.Count];
        for (int i = 0; i < lines.Count; i++)
            result[i] = (lines[i], 1000.0 * ticks[i] / System.Diagnostics.Stopwatch.Frequency / calls);
        return result;
    }

    /// <summary>What runs at this batch size, one line per step (or the fallback and its reason).</summary>
    public IReadOnlyList<string> Describe(int batch)
    {
        lock (_gate)
        {
            if (ParametersMoved()) Compile();
            return _program is not null ? _program.Describe(batch) : [$"model forward under no-grad ({FallbackReason})"];
        }
    }

    // ---------------------------------------------------------------- compiling

    private void Compile()
    {
        var parameters = Model.Parameters();
        _compiledFor = new Tensor[parameters.Count];
        for (int i = 0; i < parameters.Count; i++) _compiledFor[i] = parameters[i].Value;
        _compiledOn = Model.Backend;
        _program = null;
        var layers = new List<InferenceLayer>();
        FallbackReason = DescribeLayers(Model, layers);
        if (FallbackReason is not null) return;
        _program = _compiledOn.CompileInference(layers, SampleShape, _options);
        if (_program is null) FallbackReason = $"the {_compiledOn.Name} backend has no inference compiler";
        else if (_program.Outputs != Outputs)
            throw new InvalidOperationException($"InferenceSession: the compiled program gives {_program.Outputs} outputs, the model {Outputs}.");
    }

    private bool ParametersMoved()
    {
        var parameters = Model.Parameters();
        if (parameters.Count != _compiledFor.Length || !ReferenceEquals(Model.Backend, _compiledOn)) return true;
        for (int i = 0; i < parameters.Count; i++)
            if (!ReferenceEquals(parameters[i].Value, _compiledFor[i])) return true;
        return false;
    }

    /// <summary>
    /// Appends the inference form of <paramref name="module"/> to <paramref name="layers"/>: a Conv2D takes the ReLU and the
    /// max-pool that follow it, a Dense its ReLU; Dropout is the identity. Returns why it cannot, or null.
    /// </summary>
    private static string? DescribeLayers(Module module, List<InferenceLayer> layers)
    {
        if (module is not Sequential sequential)
            return $"'{module.Name}' is a {module.GetType().Name}, not a Sequential of the engine's layers";
        var list = sequential.Layers;
        for (int i = 0; i < list.Count; i++)
        {
            var layer = list[i];
            bool reluNext = i + 1 < list.Count && list[i + 1] is ReLU;
            switch (layer)
            {
                case Conv2D conv:
                {
                    int at = reluNext ? i + 2 : i + 1;
                    var pool = at < list.Count && list[at] is MaxPool2D p ? new MaxPoolInference(p.Pool, p.Stride) { Name = p.Name } : null;
                    layers.Add(new ConvInference(conv.Weight.Value, conv.Bias?.Value, conv.Stride, conv.Padding, reluNext, pool) { Name = conv.Name });
                    i = pool is null ? at - 1 : at;
                    break;
                }
                case Dense dense:
                    layers.Add(new DenseInference(dense.Weight.Value, dense.Bias?.Value, reluNext) { Name = dense.Name });
                    if (reluNext) i++;
                    break;
                case MaxPool2D pool:
                    layers.Add(new MaxPoolInference(pool.Pool, pool.Stride) { Name = pool.Name });
                    break;
                case ReLU:
                    layers.Add(new ReluInference { Name = layer.Name });
                    break;
                case GlobalAvgPool2D:
                    layers.Add(new GlobalAvgPoolInference { Name = layer.Name });
                    break;
                case Flatten:
                    layers.Add(new FlattenInference { Name = layer.Name });
                    break;
                case Dropout:
                    break; // the identity in inference
                case Sequential:
                {
                    string? reason = DescribeLayers(layer, layers);
                    if (reason is not null) return reason;
                    break;
                }
                default:
                    return $"layer '{layer.Name}' ({layer.GetType().Name}) has no inference form";
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- the fallback

    private void RunModelForward(ReadOnlySpan<float> images, int batch, Span<float> logits)
    {
        var backend = Model.Backend;
        var shape = Batched(SampleShape, batch);
        if (_fallbackInput is null || _fallbackInput.Shape != shape || !ReferenceEquals(_fallbackInput.Backend, backend))
        {
            _fallbackInput?.Dispose();
            _fallbackInput = Tensor.Empty(shape, backend);
        }
        _fallbackInput.CopyFrom(images);
        var tape = Tape.Current;
        // Reset the thread's tape afterwards only if it held nothing before: a caller in the middle of a step keeps its
        // temporaries (ours are then freed with them).
        bool idle = tape.NodeCount == 0 && tape.TemporaryCount == 0;
        bool training = Model.IsTraining;
        Model.Eval();
        try
        {
            using (Tape.NoGrad())
            {
                var y = Model.Forward(_fallbackInput);
                y.CopyTo(logits[..(batch * Outputs)]);
            }
        }
        finally
        {
            if (training) Model.Train();
            if (idle) tape.Reset();
        }
    }

    private static Shape Batched(Shape sample, int batch)
    {
        var dims = new int[sample.Rank + 1];
        dims[0] = batch;
        for (int i = 0; i < sample.Rank; i++) dims[i + 1] = sample[i];
        return Shape.Of(dims);
    }
}
