using System.Diagnostics;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tensors.Inference;

namespace NativeConv.Tensors.Backends.Cpu.Inference;

/// <summary>
/// A network compiled for forward passes on the SIMD CPU engine: a list of steps (a convolution carries its ReLU and,
/// where it fits, the max-pool after it; a Dense its ReLU; Flatten is only a change of shape and costs nothing), per
/// (batch size, thread count, algorithm setting) a plan — each step's decisions — made on first use and then reused, and
/// two activation buffers the steps write in turn, grown to the largest batch seen and shared by every plan (calls are
/// serialised): a call allocates nothing after the first at its batch size, and a server that sees every batch size up
/// to 32 holds the buffers of one batch of 32, not of all of them.
/// Weight-derived data (Winograd-transformed kernels) is rebuilt when a weight's <see cref="Tensor.Version"/> changes.
/// </summary>
internal sealed class CpuInferenceProgram : IInferenceProgram
{
    private readonly InferenceStep[] _steps;
    private readonly int _inputFloats;
    private readonly int _largestFloats; // the largest activation of one sample between two steps
    private readonly Dictionary<PlanKey, BatchPlan> _plans = new();
    private readonly Lock _gate = new();

    /// <summary>A caller sweeping many batch sizes starts the plan cache over past this many (each holds buffers).</summary>
    private const int MaxPlans = 64;

    private readonly record struct PlanKey(int Batch, int Threads, Conv2DAlgorithm Algorithm);

    private sealed class BatchPlan(object?[] stepPlans)
    {
        public readonly object?[] StepPlans = stepPlans;
    }

    private float[] _first = [], _second = [];

    public Shape SampleShape { get; }
    public int Outputs { get; }

    public CpuInferenceProgram(IReadOnlyList<InferenceLayer> layers, Shape sampleShape, InferenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(layers);
        SampleShape = sampleShape;
        var algorithm = Conv2DAlgorithms.Current;
        var steps = new List<InferenceStep>();
        var shape = sampleShape;
        foreach (var layer in layers)
        {
            switch (layer)
            {
                case ConvInference conv:
                    Require(shape.Rank == 3, layer, shape, "(C, H, W) images");
                    RequireCpu(layer, conv.Weight, conv.Bias);
                    var step = ConvStep.Create(conv, shape, algorithm, options.MatchTrainingForward, out bool fusedPool);
                    steps.Add(step);
                    shape = step.Output;
                    if (conv.Pool is { } pool && !fusedPool)
                    {
                        steps.Add(new MaxPoolStep(layer.Name + ".pool", shape, pool.Size, pool.Stride));
                        shape = steps[^1].Output;
                    }
                    break;
                case DenseInference dense:
                    RequireCpu(layer, dense.Weight, dense.Bias);
                    steps.Add(new DenseStep(dense, shape, gemvRows: options.MatchTrainingForward ? 0 : Gemv.MaxRows));
                    shape = steps[^1].Output;
                    break;
                case MaxPoolInference maxPool:
                    Require(shape.Rank == 3, layer, shape, "(C, H, W) images");
                    steps.Add(new MaxPoolStep(layer.Name, shape, maxPool.Size, maxPool.Stride));
                    shape = steps[^1].Output;
                    break;
                case GlobalAvgPoolInference:
                    Require(shape.Rank == 3, layer, shape, "(C, H, W) images");
                    steps.Add(new GlobalAvgPoolStep(layer.Name, shape));
                    shape = steps[^1].Output;
                    break;
                case ReluInference:
                    steps.Add(new ReluStep(layer.Name, shape));
                    break;
                case FlattenInference:
                    shape = new Shape(shape.Size);
                    break;
                default:
                    throw new ArgumentException($"inference step '{layer.Name}': the CPU inference compiler does not know {layer.GetType().Name}.");
            }
        }
        if (shape.Rank != 1)
            throw new ArgumentException($"inference: the network ends with samples of {shape}; a classifier ends with a vector (Flatten or pool, then Dense).");
        _steps = steps.ToArray();
        _inputFloats = sampleShape.Size;
        Outputs = shape.Size;
        int largest = 1;
        foreach (var s in _steps) largest = Math.Max(largest, s.Output.Size);
        _largestFloats = largest;
    }

    private static void Require(bool condition, InferenceLayer layer, Shape shape, string expected)
    {
        if (!condition)
            throw new ArgumentException($"inference step '{layer.Name}' ({layer.GetType().Name}) expects {expected}; the layers before it give samples of {shape}.");
    }

    private static void RequireCpu(InferenceLayer layer, Tensor weight, Tensor? bias)
    {
        if (weight.Backend is not CpuBackend || bias is { Backend: not CpuBackend })
            throw new ArgumentException($"inference step '{layer.Name}': its weights live on {weight.Backend.Name}, not on the CPU.");
    }

    public void Run(ReadOnlySpan<float> input, int batch, Span<float> output) => Run(input, batch, output, []);

    public void RunTimed(ReadOnlySpan<float> input, int batch, Span<float> output, Span<long> stepTicks)
    {
        if (stepTicks.Length != _steps.Length)
            throw new ArgumentException($"inference: {_steps.Length} steps need as many tick counters; got {stepTicks.Length}.", nameof(stepTicks));
        Run(input, batch, output, stepTicks);
    }

    private void Run(ReadOnlySpan<float> input, int batch, Span<float> output, Span<long> stepTicks)
    {
        if (batch < 1)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "inference: the batch must hold at least one sample.");
        if (input.Length < (long)batch * _inputFloats || output.Length < (long)batch * Outputs)
            throw new ArgumentException($"inference: a batch of {batch} samples of {SampleShape} needs {(long)batch * _inputFloats} input floats and {(long)batch * Outputs} output floats; got {input.Length} and {output.Length}.");
        lock (_gate)
        {
            var plan = PlanFor(batch);
            foreach (var step in _steps) step.Refresh();
            ReadOnlySpan<float> current = input[..(batch * _inputFloats)];
            if (_steps.Length == 0)
            {
                current.CopyTo(output);
                return;
            }
            for (int i = 0; i < _steps.Length; i++)
            {
                int floats = batch * _steps[i].Output.Size;
                var next = i == _steps.Length - 1 ? output[..floats] : ((i & 1) == 0 ? _first : _second).AsSpan(0, floats);
                long started = stepTicks.IsEmpty ? 0 : Stopwatch.GetTimestamp();
                _steps[i].Run(current, next, batch, plan.StepPlans[i]);
                if (!stepTicks.IsEmpty) stepTicks[i] += Stopwatch.GetTimestamp() - started;
                current = next;
            }
        }
    }

    public IReadOnlyList<string> Describe(int batch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "inference: the batch must hold at least one sample.");
        lock (_gate)
        {
            var plan = PlanFor(batch);
            var lines = new string[_steps.Length];
            for (int i = 0; i < _steps.Length; i++) lines[i] = _steps[i].Describe(batch, plan.StepPlans[i]);
            return lines;
        }
    }

    private BatchPlan PlanFor(int batch)
    {
        var key = new PlanKey(batch, ParallelFor.ThreadCount, Conv2DAlgorithms.Current);
        if (_plans.TryGetValue(key, out var plan)) return plan;
        if (_plans.Count >= MaxPlans) _plans.Clear();
        var stepPlans = new object?[_steps.Length];
        for (int i = 0; i < _steps.Length; i++) stepPlans[i] = _steps[i].PlanFor(batch);
        long floats = (long)batch * _largestFloats;
        if (floats > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"inference: a batch of {batch} needs activations of {floats} floats; use smaller batches.");
        if (_first.Length < floats)
        {
            _first = GC.AllocateUninitializedArray<float>((int)floats, pinned: true);
            _second = GC.AllocateUninitializedArray<float>((int)floats, pinned: true);
        }
        plan = new BatchPlan(stepPlans);
        _plans[key] = plan;
        return plan;
    }
}
