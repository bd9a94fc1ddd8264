using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>
/// An inference convolution's weights, prepared once per weight version for the method its plans run (chosen from the
/// geometry without its batch size, <see cref="Conv2DAlgorithms.InferenceForward"/>; a Winograd layer's single-image plans
/// may run the direct forward, so it keeps W as given as well): for Winograd the
/// transformed U = G g Gᵀ (16, OC, C) with each U[ξ] packed as the GEMM's A side; for im2col the kernels W (OC, C·KH·KW)
/// packed likewise, or, for a short patch and for the direct forward (<see cref="SmallPatchGemm"/>, which packs nothing),
/// W as given. A forward then
/// packs nothing (the training forward packs W, or transforms and packs U, on every call). Same bits as the training
/// forward: the same panels, the same blocking.
/// </summary>
public sealed class ConvInferenceWeights
{
    /// <summary>W packed for the im2col GEMM (a patch longer than <see cref="SmallPatchGemm.MaxPatch"/>), else null.</summary>
    internal Sgemm.PackedMatrix? Im2Col { get; private set; }
    /// <summary>W as given (OC, C·KH·KW) for a short patch's unpacked product or the direct forward, else null.</summary>
    internal float[]? Weights { get; private set; }
    internal float[]? Winograd { get; private set; }
    internal Sgemm.PackedMatrix[]? WinogradPanels { get; private set; }

    /// <summary>
    /// Prepares <paramref name="w"/> (OC, C, KH, KW) of geometry <paramref name="g"/> for the forward method its plans run
    /// (<paramref name="forward"/>: Winograd, Direct, else im2col); reuses the buffers of <paramref name="reuse"/> when given.
    /// </summary>
    public static ConvInferenceWeights Prepare(ReadOnlySpan<float> w, in ConvGeometry g, ConvMethod forward, ConvInferenceWeights? reuse = null)
    {
        if (w.Length < g.OC * g.PatchSize)
            throw new ArgumentException($"ConvInferenceWeights: weights {w.Length} too small for {g}.");
        var prepared = reuse ?? new ConvInferenceWeights();
        if (forward != ConvMethod.Winograd)
        {
            if (forward == ConvMethod.Direct || g.PatchSize <= SmallPatchGemm.MaxPatch) prepared.KeepAsGiven(w, g);
            else prepared.Im2Col = Sgemm.PackA(w, g.OC, g.PatchSize, g.PatchSize, prepared.Im2Col);
        }
        else
        {
            // A layer that may run Winograd runs the direct forward for a single image (ConvPlan): keep W as given too.
            if (DirectConvForward.Supports(g)) prepared.KeepAsGiven(w, g);
            int plane = g.OC * g.C;
            prepared.Winograd ??= GC.AllocateUninitializedArray<float>(16 * plane);
            Winograd3x3.TransformWeights(w, g.OC, g.C, flipped: false, prepared.Winograd);
            prepared.WinogradPanels ??= new Sgemm.PackedMatrix[16];
            for (int xi = 0; xi < 16; xi++)
                prepared.WinogradPanels[xi] = Sgemm.PackA(prepared.Winograd.AsSpan(xi * plane, plane), g.OC, g.C, g.C, prepared.WinogradPanels[xi]);
        }
        return prepared;
    }

    // W (OC, C·KH·KW) copied as given into Weights (pinned, reused while the size holds).
    private void KeepAsGiven(ReadOnlySpan<float> w, in ConvGeometry g)
    {
        if (Weights?.Length != g.OC * g.PatchSize) Weights = GC.AllocateUninitializedArray<float>(g.OC * g.PatchSize, pinned: true);
        w[..(g.OC * g.PatchSize)].CopyTo(Weights);
    }
}
