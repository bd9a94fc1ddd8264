using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// An inference convolution's weights, prepared once per weight version for the methods its plans may pick: for im2col
/// the kernels W (OC, C·KH·KW) packed as the GEMM's A side; for Winograd the transformed U = G g Gᵀ (16, OC, C) and each
/// U[ξ] packed likewise. A forward then packs nothing (the training forward packs W, or transforms and packs U, on every
/// call). Same bits as the training forward: the same panels, the same blocking.
/// </summary>
public sealed class ConvInferenceWeights
{
    internal Sgemm.PackedMatrix? Im2Col { get; private set; }
    /// <summary>The kernels as given (OC, C·KH·KW): what a short patch's unpacked product reads.</summary>
    internal float[] Weights { get; private set; } = [];
    internal float[]? Winograd { get; private set; }
    internal Sgemm.PackedMatrix[]? WinogradPanels { get; private set; }

    /// <summary>
    /// Prepares <paramref name="w"/> (OC, C, KH, KW) of geometry <paramref name="g"/> for im2col and, when
    /// <paramref name="winograd"/> (a 3×3 stride-1 layer whose plans may pick it), for Winograd; reuses the buffers of
    /// <paramref name="reuse"/> when given.
    /// </summary>
    public static ConvInferenceWeights Prepare(ReadOnlySpan<float> w, in ConvGeometry g, bool winograd, ConvInferenceWeights? reuse = null)
    {
        if (w.Length < g.OC * g.PatchSize)
            throw new ArgumentException($"ConvInferenceWeights: weights {w.Length} too small for {g}.");
        var prepared = reuse ?? new ConvInferenceWeights();
        prepared.Im2Col = Sgemm.PackA(w, g.OC, g.PatchSize, g.PatchSize, prepared.Im2Col);
        if (prepared.Weights.Length != g.OC * g.PatchSize) prepared.Weights = GC.AllocateUninitializedArray<float>(g.OC * g.PatchSize, pinned: true);
        w[..(g.OC * g.PatchSize)].CopyTo(prepared.Weights);
        if (winograd)
        {
            int plane = g.OC * g.C;
            prepared.Winograd ??= GC.AllocateUninitializedArray<float>(16 * plane);
            Winograd3x3.TransformWeights(w, g.OC, g.C, flipped: false, prepared.Winograd);
            prepared.WinogradPanels ??= new Sgemm.PackedMatrix[16];
            for (int xi = 0; xi < 16; xi++)
                prepared.WinogradPanels[xi] = Sgemm.PackA(prepared.Winograd.AsSpan(xi * plane, plane), g.OC, g.C, g.C, prepared.WinogradPanels[xi]);
        }
        return prepared;
    }
}
