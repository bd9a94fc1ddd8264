using System.Collections.Concurrent;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

/// <summary>How the CPU computes a convolution: its forward, its input gradient and its weight gradient.</summary>
public enum Conv2DAlgorithm
{
    /// <summary>Per layer from its shape (<see cref="Conv2DAlgorithms.PreferWinograd"/>).</summary>
    Auto,
    /// <summary>im2col + GEMM (forward), Wᵀ·dY + col2im (dx), dY·colᵀ (dW).</summary>
    Im2Col,
    /// <summary>Winograd F(2×2, 3×3) wherever the geometry allows it (3×3, stride 1, padding 0..2), im2col elsewhere.</summary>
    Winograd,
}

/// <summary>
/// The algorithm setting: process-wide <see cref="Default"/> (set by the program at its command-line edge; Auto unless
/// set), overridable per calling thread with <see cref="Force"/> (tests, benchmarks: the choice is made on the thread that
/// calls the kernel, before any parallel work). The kernels read it once per call, to pick their <see cref="ConvPlan"/>.
/// </summary>
public static class Conv2DAlgorithms
{
    public static Conv2DAlgorithm Default { get; set; } = Conv2DAlgorithm.Auto;

    [ThreadStatic] private static int t_forced; // 0: none; otherwise the algorithm + 1

    /// <summary>The algorithm in force on this thread.</summary>
    public static Conv2DAlgorithm Current => t_forced > 0 ? (Conv2DAlgorithm)(t_forced - 1) : Default;

    /// <summary>Forces an algorithm on this thread until the returned scope is disposed.</summary>
    public static Scope Force(Conv2DAlgorithm algorithm)
    {
        var scope = new Scope(t_forced);
        t_forced = (int)algorithm + 1;
        return scope;
    }

    public readonly struct Scope(int previous) : IDisposable
    {
        public void Dispose() => t_forced = previous;
    }

    /// <summary>
    /// True when a convolution with this geometry runs Winograd under <paramref name="algorithm"/>: its forward and its
    /// weight gradient (inputGradient false; both are products of the forward problem's transforms), or its input gradient.
    /// </summary>
    public static bool UseWinograd(in ConvGeometry g, Conv2DAlgorithm algorithm, bool inputGradient) => algorithm switch
    {
        Conv2DAlgorithm.Im2Col => false,
        Conv2DAlgorithm.Winograd => WinogradProblem.Supports(g),
        _ => WinogradProblem.Supports(g) && PreferWinograd(inputGradient ? WinogradProblem.InputGradient(g) : WinogradProblem.Forward(g)),
    };

    /// <summary>
    /// True when a forward-only (inference) convolution with this geometry runs Winograd under <paramref name="algorithm"/>
    /// at some batch size (its weights are then transformed): Auto uses <see cref="PreferWinogradForInference"/>, not the
    /// training rule; a plan may still run the direct forward at small batches (<see cref="PreferDirectOverWinograd"/>).
    /// </summary>
    public static bool UseWinogradForInference(in ConvGeometry g, Conv2DAlgorithm algorithm) => algorithm switch
    {
        Conv2DAlgorithm.Im2Col => false,
        Conv2DAlgorithm.Winograd => WinogradProblem.Supports(g),
        _ => WinogradProblem.Supports(g) && PreferWinogradForInference(WinogradProblem.Forward(g)),
    };

    /// <summary>
    /// The Auto rule for a forward that is all there is (inference): the weights are transformed and packed once per weight
    /// version instead of every step and a 2×2 pool is fused into the output transform, so Winograd pays from 16 input and
    /// 32 output channels. Measured on Zen 3 (2 threads, ReLU and pool fused): fmnist-cnn's 16→32 @14 at batch 128 2.7 vs
    /// 3.8 ms with im2col, and 0.93–1.04× the direct forward; with 16 output channels the direct forward is faster
    /// (16→16 @32 and @16: 1.6× at batch 128, 1.6–2.0× at batch 1).
    /// </summary>
    public static bool PreferWinogradForInference(in WinogradProblem p) => p.C >= MinInferenceWinogradChannels && p.OC >= 2 * MinInferenceWinogradChannels;

    internal const int MinInferenceWinogradChannels = 16;

    /// <summary>
    /// True when a forward-only plan of a layer that may run Winograd runs the direct forward instead, for this batch: under
    /// Auto, with fewer than 32 input channels and a single image — on two threads its row bands of the direct product
    /// against Winograd's three phases (fmnist-cnn's 16→32 @14: 1.42×, cifar-medium's 16→32 @16: 1.14×; with 32 channels
    /// in, 32→32 @16: 0.90×). By the batch alone, not the thread count, so one and two threads give the same bits.
    /// </summary>
    public static bool PreferDirectOverWinograd(in ConvGeometry g, Conv2DAlgorithm algorithm) =>
        algorithm == Conv2DAlgorithm.Auto && DirectConvForward.Supports(g) && g.C < 2 * MinInferenceWinogradChannels && g.N == 1;

    /// <summary>
    /// True when a convolution's forward runs <see cref="ConvMethod.Direct"/> where it does not run Winograd (by the
    /// training rule for training plans, by the inference rule for forward-only ones): under Auto, a stride-1 layer with a
    /// patch longer than <see cref="MaxIm2ColPatch"/> (an explicit Im2Col or Winograd setting keeps its method). Measured
    /// on Zen 3 (AVX2, 2 threads, ReLU fused; im2col's time over the direct one, two sittings): inference at batch 128,
    /// cifar-small's 8→8 @32 with a 2×2 pool 2.3–2.8×, 3→8 @32 1.55–1.75×, 8→16 @16 1.65–1.8×, 3→32 @32 1.16–1.37×,
    /// fmnist-cnn-k5's 16→32 5×5 @14 1.37–1.48× and 1→16 5×5 @28 1.06–1.17×; at batch 1 (row bands) 0.92–1.72×, 8→8 1.7×;
    /// the training forward (W packed per call) at batch 64: 16→16 @32 1.53×, 16→32 @16 1.48×, 16→32 5×5 @14 1.51×,
    /// 8→8 @32 2.29×, 3→64 @32 1.21×. Not the nine-tap patch of fmnist-cnn's 1→16 3×3 @28 (0.96–1.10×; 1→32: 0.88–0.91×):
    /// its column matrix costs little to build, while the direct product computes each 28-wide row as 32 lanes.
    /// </summary>
    public static bool UseDirect(in ConvGeometry g, Conv2DAlgorithm algorithm) =>
        algorithm == Conv2DAlgorithm.Auto && DirectConvForward.Supports(g) && g.PatchSize > MaxIm2ColPatch;

    internal const int MaxIm2ColPatch = 9;

    /// <summary>
    /// True when a training convolution's dx runs <see cref="ConvMethod.Direct"/> (where it does not run Winograd): under
    /// Auto, stride 1, with 4 to <see cref="MaxDirectGradientChannels"/> input channels — dx's product has C rows, and below
    /// four its register blocks fall to single rows. Measured on Zen 3 (2 threads, batch 64, dx alone, im2col's time over
    /// the direct one): 8→8 @32 1.65×, 16→16 @32 1.27×, 16→16 @16 1.19×, 16→32 5×5 @14 1.28×, 16→32 @16 / @8 1.09 / 1.10×,
    /// 16→32 @14 0.91×, 8→16 @16 0.97×; a first layer's 3 rows 0.39× (training computes no dx there anyway).
    /// </summary>
    public static bool UseDirectInputGradient(in ConvGeometry g, Conv2DAlgorithm algorithm)
    {
        var dx = DirectConvForward.InputGradient(g);
        return algorithm == Conv2DAlgorithm.Auto && DirectConvForward.Supports(g) && DirectConvForward.Supports(dx)
               && g.C is >= 4 and <= MaxDirectGradientChannels && dx.PatchSize > MaxIm2ColPatch;
    }

    /// <summary>
    /// True when a training convolution's dW runs <see cref="ConvMethod.Direct"/> (where it does not run Winograd): under
    /// Auto, stride 1, at most <see cref="MaxDirectGradientChannels"/> output channels and a patch too long for the dot
    /// products of first layers (<see cref="Conv2DWeightDots.Prefer"/>). The im2col dW is a GEMM of M = OC rows behind a
    /// transposing pack of the column matrix: with 8 or 16 rows the packs cost more than the product. Measured on Zen 3 (2
    /// threads, batch 64, dW + dBias alone): 8→8 @32 2.76×, 16→16 @32 1.39×, 8→16 @16 1.31×, 16→16 @16 1.05×; with 32
    /// output channels the GEMM wins (direct 0.49–0.66×), and the first layers' dot products do (direct 0.79–0.96×).
    /// </summary>
    public static bool UseDirectWeightGradient(in ConvGeometry g, Conv2DAlgorithm algorithm) =>
        algorithm == Conv2DAlgorithm.Auto && DirectConvForward.Supports(g) && g.OC <= MaxDirectGradientChannels
        && !Conv2DWeightDots.Prefer(g.PatchSize);

    internal const int MaxDirectGradientChannels = 16;

    /// <summary>The forward method of every training plan of this geometry, whatever its batch size (Pointwise shows as Im2Col).</summary>
    public static ConvMethod TrainingForward(in ConvGeometry g, Conv2DAlgorithm algorithm) =>
        UseWinograd(g, algorithm, inputGradient: false) ? ConvMethod.Winograd
        : UseDirect(g, algorithm) ? ConvMethod.Direct : ConvMethod.Im2Col;

    /// <summary>
    /// The forward method an inference layer of this geometry prepares its weights for (Pointwise shows as Im2Col); a
    /// Winograd layer's single-image plan may still run the direct forward (<see cref="PreferDirectOverWinograd"/>).
    /// </summary>
    public static ConvMethod InferenceForward(in ConvGeometry g, Conv2DAlgorithm algorithm) =>
        UseWinogradForInference(g, algorithm) ? ConvMethod.Winograd
        : UseDirect(g, algorithm) ? ConvMethod.Direct : ConvMethod.Im2Col;

    /// <summary>
    /// The Auto rule, per Winograd problem (the forward, or dx as a forward from OC to C channels): Winograd when both its
    /// channel counts are at least <see cref="MinWinogradChannels"/>. The 16 GEMMs save 20·C·OC of 36·C·OC multiply-adds
    /// per tile; the transforms cost about a·C + b·OC per tile, and with K = C = 16 the GEMM is too thin for the saving
    /// to pay for them. Measured, 1 thread, batch 128 (docs/perf/conv.md): every study layer with 32 or more channels on
    /// both sides is faster with Winograd, forward 1.3–1.45×, dx 1.03–1.3×; 16→32 @14 is 5–15% slower, forward and dx.
    /// dW (2 threads): 1.2–1.75× faster on the four CIFAR CNN(32, 64) layers with 32 or more channels.
    /// </summary>
    public static bool PreferWinograd(in WinogradProblem p) => p.C >= MinWinogradChannels && p.OC >= MinWinogradChannels;

    internal const int MinWinogradChannels = 32;
}

/// <summary>How one pass of a convolution is computed.</summary>
public enum ConvMethod
{
    /// <summary>im2col + GEMM (dx: Wᵀ·dY + col2im; dW: dY·colᵀ as a GEMM).</summary>
    Im2Col,
    /// <summary>dW only: dY·colᵀ as blocked dot products (<see cref="Conv2DWeightDots"/>), for first layers' narrow patches.</summary>
    Im2ColDots,
    /// <summary>
    /// 1×1, stride 1, unpadded, one image per GEMM: the image is its own column matrix (no im2col, no col2im; its dW a GEMM
    /// or, for few channels, dot products as <see cref="Im2ColDots"/>).
    /// </summary>
    Pointwise,
    /// <summary>Winograd F(2×2, 3×3).</summary>
    Winograd,
    /// <summary>
    /// Stride 1, no column matrix: the forward's product reads the zero-padded image at shifted offsets
    /// (<see cref="DirectConvForward"/>); dx is that forward of dY with the flipped kernels; dW sums dY against the padded
    /// image shifted per tap (<see cref="DirectConvWeightGradient"/>).
    /// </summary>
    Direct,
}

/// <summary>
/// Everything a convolution decides before it touches data, decided once per (geometry with its batch size, algorithm
/// setting, thread count) and cached, as cuDNN and oneDNN do: the method of each pass (forward, dx, dW), the images per
/// GEMM / Winograd group, the weight gradient's chunks, the per-thread scratch each group needs. Group sizes come from the
/// machine's cache sizes (<see cref="CpuCaches"/>; the constants they were tuned with are the fallbacks). The kernels only
/// follow the plan, so the same plan gives bitwise the same results (every reduction's order is fixed by it).
/// </summary>
public sealed class ConvPlan
{
    /// <summary>The geometry (batch size included) the plan is for.</summary>
    public ConvGeometry Geometry { get; }
    /// <summary>The algorithm setting it was made under (Auto, Im2Col, Winograd).</summary>
    public Conv2DAlgorithm Algorithm { get; }
    /// <summary>The thread count it was sized for.</summary>
    public int Threads { get; }

    public ConvMethod Forward { get; }
    public ConvMethod InputGradient { get; }
    public ConvMethod WeightGradient { get; }

    /// <summary>
    /// True when the forward has fewer image groups than threads and each group is big enough to be shared between the
    /// threads inside its images (<see cref="SplitsWinogradGroups"/>, <see cref="SplitsIm2ColGroups"/>); false: each group
    /// runs on one thread.
    /// </summary>
    public bool ForwardSplitsGroups { get; }

    /// <summary>
    /// Forward-only im2col plans whose groups are single images, fewer than the threads (batch 1): each image is cut into
    /// this many bands of output rows (of pooled rows where a pool is fused), each band's im2col, product and epilogue on
    /// one thread with nothing to wait for in between — instead of <see cref="ForwardSplitsGroups"/>' three phases, whose
    /// product stays on one thread below the GEMM's parallel size (cifar-small's first layers at batch 1). 0: no bands.
    /// Bitwise the whole image's result: each output's sum runs in the patch's order whatever the columns around it
    /// (patches shorter than the GEMM's split-K length only).
    /// </summary>
    public int ForwardRowBands { get; }

    /// <summary>Images per im2col group (forward and the im2col backward pass) and the number of such groups.</summary>
    public int Im2ColImagesPerGroup { get; }
    public int Im2ColGroups { get; }
    /// <summary>Images per group of the Winograd forward, of the Winograd dx, of the Winograd dW (0 where not Winograd).</summary>
    public int ForwardWinogradImages { get; }
    public int InputGradientWinogradImages { get; }
    public int WeightGradientWinogradImages { get; }
    /// <summary>Chunks of the im2col backward pass when it computes dW (and dBias): each sums into its own partial.</summary>
    public int Im2ColWeightChunks { get; }
    /// <summary>Per-thread scratch floats of one im2col group: the column matrix (also the dcol of dx).</summary>
    public long ColumnFloats { get; }
    /// <summary>Per-thread scratch floats of one Winograd group's V and M (the largest of the three passes).</summary>
    public long WinogradGroupFloats { get; }

    /// <summary>
    /// The direct forward's offset of each patch row (c, ky, kx) in the zero-padded image (<see cref="DirectConvForward.Taps"/>),
    /// else null.
    /// </summary>
    public int[]? DirectTaps { get; }

    /// <summary>
    /// Images whose products the direct dW sums in the same register chains before reducing them to floats (their padded
    /// copies and dY grids within the L2 budget of an im2col group); 0 where dW is not direct.
    /// </summary>
    public int DirectWeightImages { get; }

    /// <summary>
    /// Where dx runs <see cref="ConvMethod.Direct"/>: the forward-only direct plan of dx's own geometry
    /// (<see cref="DirectConvForward.InputGradient"/>: dY convolved with the flipped kernels), else null.
    /// </summary>
    public ConvPlan? InputGradientPlan { get; }

    /// <summary>
    /// True for a forward-only plan (inference): its forward follows the inference rule
    /// (<see cref="Conv2DAlgorithms.UseWinogradForInference"/>); its backward passes are never run.
    /// </summary>
    public bool ForwardOnly { get; }

    private ConvPlan(in ConvGeometry g, Conv2DAlgorithm algorithm, int threads, in GroupBudgets budgets, int forcedImages,
        bool forwardOnly, bool forceDirect = false)
    {
        Geometry = g;
        Algorithm = algorithm;
        Threads = threads;
        ForwardOnly = forwardOnly;
        bool forcedDirect = forceDirect && DirectConvForward.Supports(g);
        bool winogradForward = !forcedDirect && (forwardOnly
            ? Conv2DAlgorithms.UseWinogradForInference(g, algorithm) && !Conv2DAlgorithms.PreferDirectOverWinograd(g, algorithm)
            : Conv2DAlgorithms.UseWinograd(g, algorithm, inputGradient: false));
        bool winogradDx = Conv2DAlgorithms.UseWinograd(g, algorithm, inputGradient: true);

        Im2ColImagesPerGroup = forcedImages > 0 ? Math.Min(forcedImages, g.N) : ImagesPerGemm(g, budgets.ColumnFloats, threads);
        Im2ColGroups = (g.N + Im2ColImagesPerGroup - 1) / Im2ColImagesPerGroup;
        bool pointwise = Im2ColImagesPerGroup == 1 && IsPointwise(g);
        var im2col = pointwise ? ConvMethod.Pointwise : ConvMethod.Im2Col;

        bool directForward = forceDirect ? forcedDirect
            : !winogradForward && (Conv2DAlgorithms.UseDirect(g, algorithm) || forwardOnly && Conv2DAlgorithms.PreferDirectOverWinograd(g, algorithm));
        Forward = winogradForward ? ConvMethod.Winograd : directForward ? ConvMethod.Direct : im2col;
        if (directForward) DirectTaps = DirectConvForward.Taps(g);
        var dxGeometry = DirectConvForward.InputGradient(g);
        bool directDx = !forwardOnly && !winogradDx && (forceDirect
            ? DirectConvForward.Supports(g) && DirectConvForward.Supports(dxGeometry)
            : Conv2DAlgorithms.UseDirectInputGradient(g, algorithm));
        InputGradient = winogradDx ? ConvMethod.Winograd : directDx ? ConvMethod.Direct : im2col;
        if (directDx) InputGradientPlan = new ConvPlan(dxGeometry, algorithm, threads, budgets, 0, forwardOnly: true, forceDirect: true);
        bool directWeightGradient = !forwardOnly && !winogradForward && (forceDirect ? DirectConvForward.Supports(g)
            : Conv2DAlgorithms.UseDirectWeightGradient(g, algorithm));
        WeightGradient = winogradForward ? ConvMethod.Winograd
            : directWeightGradient ? ConvMethod.Direct
            : Conv2DWeightDots.Prefer(g.PatchSize) ? ConvMethod.Im2ColDots : im2col;
        if (directWeightGradient)
        {
            DirectTaps ??= DirectConvForward.Taps(g);
            // Images whose padded copies and dY grids (sized for the widest vector) share the im2col group's L2 budget.
            long perImage = DirectConvForward.PaddedFloats(g, 16) + (long)g.OC * g.OH * DirectConvForward.RowWidth(g, 16);
            DirectWeightImages = (int)Math.Clamp(budgets.ColumnFloats / perImage, 1, Math.Max(1, g.N));
        }

        if (winogradForward)
        {
            var forward = WinogradProblem.Forward(g);
            ForwardWinogradImages = WeightGradientWinogradImages = forcedImages > 0 ? Math.Min(forcedImages, g.N)
                : WinogradImagesPerGroup(forward, budgets.WinogradFloats, threads, forwardOnly ? InferenceMinGemmMultiplyAdds : 0);
        }
        if (winogradDx)
            InputGradientWinogradImages = forcedImages > 0
                ? Math.Min(forcedImages, g.N) : WinogradImagesPerGroup(WinogradProblem.InputGradient(g), budgets.WinogradFloats, threads);

        // Two bands a thread where the image is tall enough (the loop hands out bands as threads ask): a descheduled
        // thread then holds back a quarter of the image, not half of it.
        // The direct forward's bands need only a batch below the threads (each output is one chain whatever the band).
        ForwardRowBands = forwardOnly && !winogradForward && threads > 1 && g.N < threads && g.OH >= 2 * threads
                          && (directForward || (Im2ColImagesPerGroup == 1 && g.PatchSize < Gemm.GemmDriver.SplitMinK))
            ? (g.OH >= 16 * threads ? 2 * threads : threads) : 0;
        ForwardSplitsGroups = winogradForward
            ? SplitsWinogradGroups(WinogradProblem.Forward(g), ForwardWinogradImages, threads)
            : ForwardRowBands == 0 && !directForward && SplitsIm2ColGroups(g, Im2ColImagesPerGroup, threads);
        Im2ColWeightChunks = Im2ColChunks(weights: true, bias: true);
        ColumnFloats = pointwise ? 0 : (long)g.PatchSize * g.OutputPixels * Im2ColImagesPerGroup;
        WinogradGroupFloats = Math.Max(WinogradFloats(WinogradProblem.Forward(g), Math.Max(ForwardWinogradImages, WeightGradientWinogradImages)),
            WinogradFloats(WinogradProblem.InputGradient(g), InputGradientWinogradImages));
    }

    /// <summary>
    /// "32→32 3×3 s1 @32×32 N128, 2 threads: fwd winograd ×1, dx winograd ×1, dW winograd ×1 (8 chunks)": what the plan
    /// chose, for run headers and benchmark logs.
    /// </summary>
    public string Describe()
    {
        var g = Geometry;
        string dwChunks = WeightGradient switch
        {
            ConvMethod.Winograd => $"{WinogradWeightChunks(WeightGradientWinogradImages)} chunks",
            ConvMethod.Direct => $"{ChunkCount(g.N, g.OC * g.PatchSize, g.OC, Threads)} chunks",
            _ => $"{Im2ColWeightChunks} chunks",
        };
        return $"{g.C}→{g.OC} {g.KH}×{g.KW} s{g.StrideH} @{g.H}×{g.W} N{g.N}, {Threads} threads, {Algorithm.ToString().ToLowerInvariant()}: "
            + $"fwd {Pass(Forward, ForwardWinogradImages)}, dx {Pass(InputGradient, InputGradientWinogradImages)}, "
            + $"dW {Pass(WeightGradient, WeightGradientWinogradImages)} ({dwChunks})";
    }

    public override string ToString() => Describe();

    /// <summary>Chunks of the im2col backward pass for the reductions it computes (dx alone: any chunking gives the same bits).</summary>
    internal int Im2ColChunks(bool weights, bool bias) =>
        ChunkCount(Im2ColGroups, weights ? Geometry.OC * Geometry.PatchSize : 0, bias ? Geometry.OC : 0, Threads);

    /// <summary>Chunks of the Winograd weight gradient for groups of this many images (≤ 4 per thread, ≤ the groups).</summary>
    internal int WinogradWeightChunks(int imagesPerGroup)
    {
        int groups = (Geometry.N + imagesPerGroup - 1) / imagesPerGroup;
        return Math.Max(1, Math.Min(groups, 4 * Threads));
    }

    /// <summary>
    /// The forward as run-header text, "winograd ×2, split within images" (the split part only when the forward has
    /// fewer groups than threads).
    /// </summary>
    public string DescribeForward()
    {
        int perGroup = Forward switch { ConvMethod.Winograd => ForwardWinogradImages, ConvMethod.Direct => 1, _ => Im2ColImagesPerGroup };
        string split = ForwardRowBands > 0 ? $", {ForwardRowBands} row bands an image"
            : ForwardSplitsGroups ? ", split within images"
            : (Geometry.N + perGroup - 1) / perGroup < Threads ? ", one thread per group" : "";
        return Pass(Forward, ForwardWinogradImages) + split;
    }

    private string Pass(ConvMethod m, int winogradImages) => m switch
    {
        ConvMethod.Winograd => $"winograd ×{winogradImages}",
        ConvMethod.Pointwise => "1×1 gemm",
        ConvMethod.Direct => "direct",
        ConvMethod.Im2ColDots => $"im2col dots ×{Im2ColImagesPerGroup}",
        _ => $"im2col ×{Im2ColImagesPerGroup}",
    };

    /// <summary>
    /// Whether a Winograd pass of <paramref name="images"/> per group, with fewer groups than threads, shares each group
    /// between the threads (input transforms by channel, the 16 GEMMs, output transforms by channel) instead of running it
    /// on one thread: only from <see cref="SplitMinFlops"/>, where it pays for three parallel loops.
    /// </summary>
    internal static bool SplitsWinogradGroups(in WinogradProblem p, int images, int threads) =>
        SplitsGroups((p.N + images - 1) / images, threads, 2.0 * p.OC * p.C * 9 * p.OH * p.OW * images, SplitMinFlops);

    /// <summary>
    /// The same for an im2col forward (im2col by channel, the GEMM, the epilogue by channel): only from the GEMM's own
    /// parallel size — below it the GEMM runs on one thread anyway, and sharing only the im2col and the epilogue costs
    /// more than it saves.
    /// </summary>
    internal static bool SplitsIm2ColGroups(in ConvGeometry g, int images, int threads) =>
        SplitsGroups((g.N + images - 1) / images, threads, 2.0 * g.OC * g.PatchSize * g.OutputPixels * images,
            Gemm.GemmDriver.SerialFlops);

    private static bool SplitsGroups(int groups, int threads, double flopsPerGroup, double minFlops) =>
        groups < threads && threads > 1 && flopsPerGroup >= minFlops;

    /// <summary>Direct-convolution flops of a Winograd group below which it runs on one thread (fmnist-cnn's layers at batch 1).</summary>
    internal const double SplitMinFlops = 1e6;

    // ---- the cache ----

    private readonly record struct Key(ConvGeometry Geometry, Conv2DAlgorithm Algorithm, int Threads, bool ForwardOnly);

    /// <summary>Plans made so far. A model has a handful of layers and batch sizes; the cap only guards against a caller
    /// that sweeps thousands of shapes (then the cache starts over).</summary>
    private static readonly ConcurrentDictionary<Key, ConvPlan> s_plans = new();
    private const int MaxCachedPlans = 1024;

    /// <summary>
    /// The plan for this geometry under <paramref name="algorithm"/> and the current thread count: made on first use, then
    /// the same object (a dictionary lookup, no allocation). Thread-safe; two threads racing on a new key may both build a
    /// plan, and one of them is kept — plans for one key are equal, so either is right.
    /// </summary>
    /// <param name="forwardOnly">A plan for inference: the forward picks its method by the inference rule.</param>
    public static ConvPlan For(in ConvGeometry g, Conv2DAlgorithm algorithm, bool forwardOnly = false)
    {
        var key = new Key(g, algorithm, ParallelFor.ThreadCount, forwardOnly);
        if (s_plans.TryGetValue(key, out var plan)) return plan;
        if (s_plans.Count >= MaxCachedPlans) s_plans.Clear();
        plan = new ConvPlan(key.Geometry, algorithm, key.Threads, GroupBudgets.From(CpuCaches.Current), forcedImages: 0, forwardOnly);
        return s_plans.GetOrAdd(key, plan);
    }

    /// <summary>
    /// An uncached plan with every group forced to <paramref name="imagesPerGroup"/> images (tests, benchmarks), or, with
    /// other <paramref name="caches"/> or <paramref name="threads"/>, the plan another machine would make.
    /// </summary>
    public static ConvPlan Create(in ConvGeometry g, Conv2DAlgorithm algorithm, int imagesPerGroup = 0, int threads = 0,
        CpuCaches? caches = null, bool forwardOnly = false) =>
        new(g, algorithm, threads > 0 ? threads : ParallelFor.ThreadCount, GroupBudgets.From(caches ?? CpuCaches.Current), imagesPerGroup,
            forwardOnly);

    /// <summary>
    /// An uncached forward-only plan whose forward runs <see cref="ConvMethod.Direct"/> wherever the geometry allows it
    /// (tests: the direct forward on shapes the Auto rule gives to im2col).
    /// </summary>
    internal static ConvPlan CreateDirect(in ConvGeometry g, int threads = 0) =>
        new(g, Conv2DAlgorithm.Im2Col, threads > 0 ? threads : ParallelFor.ThreadCount, GroupBudgets.From(CpuCaches.Current), 0,
            forwardOnly: true, forceDirect: true);

    /// <summary>
    /// An uncached training plan whose forward, dx and dW run <see cref="ConvMethod.Direct"/> wherever the geometry allows
    /// (tests: the direct passes on shapes the Auto rules give to im2col).
    /// </summary>
    internal static ConvPlan CreateDirectTraining(in ConvGeometry g, int threads = 0) =>
        new(g, Conv2DAlgorithm.Im2Col, threads > 0 ? threads : ParallelFor.ThreadCount, GroupBudgets.From(CpuCaches.Current), 0,
            forwardOnly: false, forceDirect: true);

    // ---- sizing rules ----

    /// <summary>True when the column matrix is the image itself (1×1 kernel, stride 1, no padding).</summary>
    public static bool IsPointwise(in ConvGeometry g) =>
        g.KH == 1 && g.KW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadTop == 0 && g.PadLeft == 0;

    /// <summary>
    /// Per-thread working-set caps, as fractions of the core's L2 (the fractions of the 2 MiB L2 they were tuned on,
    /// docs/perf/conv.md): an im2col group's column matrix ≤ 5/16 of L2, so it and the GEMM's packed copy stay in L2;
    /// a Winograd group's V and M ≤ half the L2, so the GEMMs read V and the output transform reads M from L2. Without a
    /// cache reading, the tuned constants (160 Ki and 256 Ki floats).
    /// </summary>
    internal readonly record struct GroupBudgets(long ColumnFloats, long WinogradFloats)
    {
        public static GroupBudgets Fallback => new(160 * 1024, 256 * 1024);

        public static GroupBudgets From(CpuCaches caches)
        {
            if (ReferenceEquals(caches, CpuCaches.Fallback) || caches.L2Bytes <= 0) return Fallback;
            long l2Floats = caches.L2Bytes / sizeof(float);
            return new(l2Floats * 5 / 16, l2Floats / 2);
        }
    }

    /// <summary>Target GEMM width (columns) when batching small images for im2col.</summary>
    private const int TargetColumns = 1024;

    /// <summary>
    /// Floors under the cache caps: a GEMM narrower than this loses more than an L2-resident group saves (Winograd, one
    /// 8×8 image per group, N = 16 tiles: 1.5× slower, docs/perf/conv.md), so a small L2 never shrinks a group below
    /// it (the group then streams from L3).
    /// </summary>
    private const int MinIm2ColColumns = 256, MinWinogradTiles = 64;

    /// <summary>
    /// Images per im2col GEMM (and per backward group): enough that the GEMM's N = B·OH·OW reaches about
    /// <see cref="TargetColumns"/> (small images: 14×14, 8×8), while the group's column matrix stays within
    /// <paramref name="columnBudget"/> (but N ≥ <see cref="MinIm2ColColumns"/>) and the groups still spread over the
    /// workers (≥ 4 per thread). Measured on the
    /// study layers: see docs/perf/conv.md.
    /// </summary>
    internal static int ImagesPerGemm(in ConvGeometry g, long columnBudget, int threads)
    {
        if (IsPointwise(g)) return 1; // no im2col copy to amortise; the GEMM reads x_n in place
        int pixels = g.OutputPixels;
        int b = Math.Max(1, TargetColumns / pixels), floor = (MinIm2ColColumns + pixels - 1) / pixels;
        while (b > floor && (long)g.PatchSize * pixels * b > columnBudget) b--;
        int maxForParallelism = Math.Max(1, g.N / (4 * threads));
        return Math.Min(b, maxForParallelism);
    }

    /// <summary>
    /// Floor on the multiply-adds (OC·C·tiles) of each of an inference Winograd group's 16 GEMMs. With few channels the
    /// GEMMs are thin (fmnist-cnn's 16→32: K = 16) and a group sized for L2 (2 images, 98 tiles) spends its time in the
    /// set-up of 16 small calls: measured on Zen 3, batch 128, 2 threads, medians of 5: 2 images 2.8 ms, 4 images 2.6,
    /// 8 images 2.3, though V and M of 8 outgrow the 512 KiB L2. Only forward-only plans use it (training's layers with
    /// Winograd have ≥ 32 channels, where the floor does not bind, and were tuned without it).
    /// </summary>
    internal const long InferenceMinGemmMultiplyAdds = 192 * 1024;

    /// <summary>
    /// Images per Winograd group: V and M within <paramref name="budget"/> (but ≥ <see cref="MinWinogradTiles"/> tiles and
    /// ≥ <paramref name="minGemmMultiplyAdds"/> per GEMM), and ≥ 4 groups per thread.
    /// </summary>
    internal static int WinogradImagesPerGroup(in WinogradProblem p, long budget, int threads, long minGemmMultiplyAdds = 0)
    {
        long minTiles = Math.Max(MinWinogradTiles, (minGemmMultiplyAdds + (long)p.OC * p.C - 1) / ((long)p.OC * p.C));
        int floor = (int)Math.Min(int.MaxValue, (minTiles + p.TilesPerImage - 1) / p.TilesPerImage);
        int b = (int)Math.Max(floor, budget / (16L * (p.C + p.OC) * p.TilesPerImage));
        int maxForParallelism = Math.Max(1, p.N / (4 * threads));
        return Math.Min(b, maxForParallelism);
    }

    private static long WinogradFloats(in WinogradProblem p, int images) => images == 0 ? 0 : 16L * (p.C + p.OC) * p.TilesPerImage * images;

    /// <summary>Cap on the floats held by dW partials (16 MiB): very large layers get fewer, larger chunks.</summary>
    private const int PartialBudgetFloats = 4 << 20;

    /// <summary>
    /// Chunks of groups: about four per thread so dynamic claiming balances the workers, never more than the groups, and
    /// few enough that the partials stay within <see cref="PartialBudgetFloats"/>.
    /// </summary>
    internal static int ChunkCount(int groups, int weightSize, int biasSize, int threads)
    {
        int chunks = Math.Min(groups, 4 * threads);
        int perChunk = weightSize + biasSize;
        if (perChunk > 0) chunks = Math.Min(chunks, 1 + PartialBudgetFloats / perChunk);
        return Math.Max(1, chunks);
    }
}
