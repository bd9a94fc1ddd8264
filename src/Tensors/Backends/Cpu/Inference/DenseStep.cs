using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tensors.Inference;

namespace NativeConv.Tensors.Backends.Cpu.Inference;

/// <summary>
/// Dense (+ ReLU): up to <see cref="Gemv.MaxRows"/> samples as matrix-vector products (the weights stream through once,
/// bias and ReLU applied as each output is stored), larger batches as one GEMM then a bias-and-ReLU pass. Both read the
/// weights packed into the GEMM's B̃ panels once per weight version (<see cref="Tensor.Version"/>), not on every call (at
/// batch 8 packing 784 × 128 weights costs about as much as multiplying them; the matrix-vector product streams the
/// panels far faster than the rows of w) — the same panels the GEMM would pack, so the same bits.
/// </summary>
internal sealed class DenseStep : InferenceStep
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;
    private readonly bool _relu;
    private readonly int _in, _out;
    private float[]? _packed;
    private long _packedVersion = -1;

    private readonly int _gemvRows;

    /// <param name="gemvRows">Batches up to this size run as matrix-vector products (0: always the GEMM, as training).</param>
    public DenseStep(DenseInference layer, Shape input, int gemvRows)
        : base(layer.Name, input, new Shape(layer.Weight.Shape[1]))
    {
        _gemvRows = Math.Clamp(gemvRows, 0, Gemv.MaxRows);
        if (layer.Weight.Shape.Rank != 2 || input.Rank != 1 || input[0] != layer.Weight.Shape[0])
            throw new ArgumentException($"inference step '{layer.Name}': a Dense with weights {layer.Weight.Shape} (in, out) cannot take samples of {input}; put a Flatten before it and match its in-features.");
        if (layer.Bias is not null && (layer.Bias.Shape.Rank != 1 || layer.Bias.Shape[0] != layer.Weight.Shape[1]))
            throw new ArgumentException($"inference step '{layer.Name}': bias {layer.Bias.Shape} must be ({layer.Weight.Shape[1]}).");
        _weight = layer.Weight;
        _bias = layer.Bias;
        _relu = layer.Relu;
        _in = input[0];
        _out = layer.Weight.Shape[1];
    }

    /// <summary>Packs the weights again when they changed since the last call (an optimiser step, a load).</summary>
    public override void Refresh()
    {
        long version = _weight.Version; // read before the values: a racing write shows as a newer version next call
        if (_packed is not null && version == _packedVersion) return;
        _packed ??= GC.AllocateUninitializedArray<float>((int)Sgemm.PackedBLength(_in, _out), pinned: true);
        Sgemm.PackB(_weight.ReadOnlySpan, _in, _out, _out, _packed);
        _packedVersion = version;
    }

    public override unsafe void Run(ReadOnlySpan<float> x, Span<float> y, int batch, object? plan)
    {
        var bias = _bias is null ? default : _bias.ReadOnlySpan;
        if (batch <= _gemvRows)
        {
            Gemv.Run(x, batch, _in, _packed, Sgemm.PackedPanelWidth, _out, bias, y, _relu);
            return;
        }
        fixed (float* packed = _packed)
            Sgemm.RunPrepackedB(batch, _out, _in, 1f, x, _in, packed, _packed!.Length, 0f, y, _out, ParallelFor.ThreadCount);
        if (!bias.IsEmpty) Bias.Forward(y, bias, y, batch, _out, 1);
        if (_relu) Relu.Forward(y, y);
    }

    public override string Describe(int batch, object? plan) =>
        $"{Name}: dense {_in}→{_out}{(_relu ? " + relu" : "")}, {(batch <= _gemvRows ? "gemv" : "gemm")}";
}
