using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Inference;

namespace NativeConv.Tensors.Backends.Cpu.Inference;

/// <summary>
/// A convolution (+ ReLU, + a max-pool fused into its epilogue where it fits). Per weight version: the kernels packed as
/// the GEMM's A side and, for a layer Winograd may run, U = G g Gᵀ transformed and packed (<see cref="ConvInferenceWeights"/>)
/// — once instead of on every call. Per batch size: the <see cref="ConvPlan"/> (algorithm, images
/// per group; a batch with fewer groups than threads is split inside each image by the kernels).
/// </summary>
internal sealed class ConvStep : InferenceStep
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;
    private readonly ConvGeometry _single; // the geometry for one image
    private readonly bool _relu;
    private readonly PoolGeometry? _pool; // one output plane, when fused
    private readonly Conv2DAlgorithm _algorithm;
    private readonly ConvMethod _forward; // the method its weights are prepared for
    private readonly bool _forwardOnlyPlans; // plans by the inference rule (false: the training forward's)
    private ConvInferenceWeights? _prepared;
    private long _preparedVersion = -1;

    private ConvStep(string name, Shape input, Shape output, Tensor weight, Tensor? bias, in ConvGeometry single, bool relu,
        PoolGeometry? pool, Conv2DAlgorithm algorithm, ConvMethod forward, bool matchTraining)
        : base(name, input, output)
    {
        _forwardOnlyPlans = !matchTraining;
        _weight = weight;
        _bias = bias;
        _single = single;
        _relu = relu;
        _pool = pool;
        _algorithm = algorithm;
        _forward = forward;
    }

    /// <summary>
    /// The step for <paramref name="layer"/> on samples of <paramref name="input"/> (C, H, W); <paramref name="fusedPool"/>
    /// is false when the layer's pool cannot be fused here and must follow as its own step.
    /// </summary>
    /// <param name="matchTraining">Run the training forward's method (its rule for Auto), for bitwise the training logits;
    /// otherwise the inference rule picks it (<see cref="Conv2DAlgorithms.UseWinogradForInference"/>).</param>
    public static ConvStep Create(ConvInference layer, Shape input, Conv2DAlgorithm algorithm, bool matchTraining, out bool fusedPool)
    {
        var g = ConvGeometry.Create(new Shape(1, input[0], input[1], input[2]), layer.Weight.Shape, layer.Stride, layer.Stride,
            layer.Padding, $"inference step '{layer.Name}'");
        // The weights' method does not depend on the batch size (a Winograd layer keeps W as given for its single-image
        // plans, which may run direct); the pool fuses only where every plan can fuse it.
        var forward = matchTraining ? Conv2DAlgorithms.TrainingForward(g, algorithm) : Conv2DAlgorithms.InferenceForward(g, algorithm);
        bool winograd = forward == ConvMethod.Winograd;
        PoolGeometry? pool = null;
        fusedPool = false;
        if (layer.Pool is { } p)
        {
            var plane = PoolGeometry.Create(new Shape(1, 1, g.OH, g.OW), p.Size, p.Size, p.Stride, p.Stride, $"inference step '{layer.Name}'");
            // Winograd pools inside its output transform, where a 2×2 output tile is one window; im2col pools any window.
            bool tileAligned = p.Size == 2 && p.Stride == 2 && (g.OH & 1) == 0 && (g.OW & 1) == 0;
            if (tileAligned || !winograd)
            {
                pool = plane;
                fusedPool = true;
            }
        }
        var output = pool is { } pg ? new Shape(g.OC, pg.OH, pg.OW) : new Shape(g.OC, g.OH, g.OW);
        return new ConvStep(layer.Name, input, output, layer.Weight, layer.Bias, g, layer.Relu, pool, algorithm, forward, matchTraining);
    }

    public override void Refresh()
    {
        long version = _weight.Version; // read before the values: a write racing this call shows as a newer version next time
        if (version == _preparedVersion && _prepared is not null) return;
        _prepared = ConvInferenceWeights.Prepare(_weight.ReadOnlySpan, _single, _forward, _prepared);
        _preparedVersion = version;
    }

    public override object PlanFor(int batch) => ConvPlan.For(_single with { N = batch }, _algorithm, _forwardOnlyPlans);

    public override void Run(ReadOnlySpan<float> x, Span<float> y, int batch, object? plan) =>
        Conv2DForwardKernel.RunInference(x, _prepared!, _bias is null ? default : _bias.ReadOnlySpan, y, (ConvPlan)plan!, _relu, _pool);

    public override string Describe(int batch, object? plan)
    {
        string fused = (_relu ? " + relu" : "") + (_pool is { } pg ? $" + maxpool {pg.KH}×{pg.KW}/{pg.StrideH}" : "");
        return $"{Name}: conv {_single.C}→{_single.OC} {_single.KH}×{_single.KW} @{_single.H}×{_single.W}{fused}, {((ConvPlan)plan!).DescribeForward()}";
    }
}
