using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Storage;

namespace NativeConv.Tensors.Backends;

/// <summary>
/// The kernel set every op calls. An op checks shapes and devices, then calls exactly these; a backend
/// (the SIMD CPU engine, an ILGPU accelerator) implements them on its own storage.
///
/// Conventions:
/// - every tensor argument lives on this backend and is contiguous row-major; images are NCHW;
/// - forward kernels overwrite their outputs; backward kernels ACCUMULATE (+=) into gradient tensors,
///   so a tensor used twice gets the sum of both gradients;
/// - shapes have been validated by the op: a kernel may assume them.
/// </summary>
public interface IBackend
{
    /// <summary>Human-readable device name, e.g. "cpu (AVX-512, 2 threads)".</summary>
    string Name { get; }

    DeviceKind Kind { get; }

    /// <summary>
    /// Compiles <paramref name="layers"/> for forward passes on samples of <paramref name="sampleShape"/>, or returns null
    /// when this backend has no inference compiler (the caller then runs the model's own forward under no-grad).
    /// </summary>
    Inference.IInferenceProgram? CompileInference(IReadOnlyList<Inference.InferenceLayer> layers, Shape sampleShape,
        Inference.InferenceOptions? options = null) => null;

    // ---------------------------------------------------------------- memory

    /// <summary>A storage of <paramref name="length"/> floats from this backend's pool; contents undefined.</summary>
    TensorStorage Allocate(int length);

    /// <summary>Gives a storage back to the pool it came from.</summary>
    void Release(TensorStorage storage);

    /// <summary>Copies host data into a tensor of this backend (host→device on a GPU).</summary>
    void Upload(ReadOnlySpan<float> source, Tensor destination);

    /// <summary>Copies a tensor's contents to host memory (device→host on a GPU; waits for pending work).</summary>
    void Download(Tensor source, Span<float> destination);

    /// <summary>Waits until every kernel queued on this backend has finished.</summary>
    void Synchronize();

    // ---------------------------------------------------------------- elementwise

    /// <summary>t[i] = value.</summary>
    void Fill(Tensor t, float value);

    /// <summary>destination[i] = source[i] (same length).</summary>
    void Copy(Tensor source, Tensor destination);

    /// <summary>y[i] += alpha · x[i] (same length).</summary>
    void Axpy(float alpha, Tensor x, Tensor y);

    // ---------------------------------------------------------------- GEMM

    /// <summary>
    /// c = alpha · op(a) · op(b) + beta · c, all row-major rank-2 tensors; op(a) is (M, K), op(b) is (K, N), c is (M, N).
    /// A transposed operand is read in place, never materialised. beta = 0 ignores c's old contents (even NaN).
    /// </summary>
    void MatMul(Tensor a, bool transposeA, Tensor b, bool transposeB, Tensor c, float alpha, float beta);

    // ---------------------------------------------------------------- bias

    /// <summary>y = x + bias broadcast on axis 1: x, y (N, F) with bias (F), or x, y (N, C, H, W) with bias (C). y may be x.</summary>
    void AddBias(Tensor x, Tensor bias, Tensor y);

    /// <summary>dBias[j] += Σ dy over every axis but 1: dy (N, F) or (N, C, H, W) → dBias (F) or (C).</summary>
    void BiasGrad(Tensor dy, Tensor dBias);

    // ---------------------------------------------------------------- convolution

    /// <summary>y = conv(x, w) + bias: x (N, C, H, W), w (OC, C, KH, KW), bias (OC) or null, y (N, OC, OH, OW). Cross-correlation, as every framework.</summary>
    void Conv2DForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g);

    /// <summary>
    /// Accumulates the convolution's gradients for the non-null targets: dx (N, C, H, W), dw (OC, C, KH, KW), dBias (OC),
    /// given x, w and dy (N, OC, OH, OW). With <paramref name="accumulateDx"/> false, dx is overwritten instead, and its old
    /// contents (a fresh, uninitialised gradient from <see cref="Autograd.Tape.GradForOverwrite"/>) must not matter.
    /// </summary>
    void Conv2DBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g,
        bool accumulateDx = true);

    /// <summary>
    /// Fused Conv2D + ReLU forward: y = max(conv(x, w) + bias, 0), shapes as <see cref="Conv2DForward"/>. The default is the
    /// composition (conv, then ReLU in place); a backend overrides it to apply the ReLU while each output is still in cache.
    /// </summary>
    void Conv2DReluForward(Tensor x, Tensor w, Tensor? bias, Tensor y, in ConvGeometry g)
    {
        Conv2DForward(x, w, bias, y, g);
        ReluForward(y, y);
    }

    /// <summary>
    /// Fused Conv2D + ReLU backward: as <see cref="Conv2DBackward"/> with dy replaced by (dy where y &gt; 0, else 0), y being
    /// the fused op's (post-ReLU) output. The default is the composition: a zeroed temporary of the current tape (freed at
    /// its Reset), <see cref="ReluBackward"/> into it, then <see cref="Conv2DBackward"/>.
    /// </summary>
    void Conv2DReluBackward(Tensor x, Tensor w, Tensor y, Tensor dy, Tensor? dx, Tensor? dw, Tensor? dBias, in ConvGeometry g,
        bool accumulateDx = true)
    {
        var masked = Autograd.Tape.Current.NewZeros(dy.Shape, this);
        ReluBackward(y, dy, masked);
        Conv2DBackward(x, w, masked, dx, dw, dBias, g, accumulateDx);
    }

    // ---------------------------------------------------------------- pooling

    /// <summary>y = max over each window: x (N, C, H, W) → y (N, C, OH, OW).</summary>
    void MaxPool2DForward(Tensor x, Tensor y, in PoolGeometry g);

    /// <summary>
    /// dx += dy routed to each window's maximum: x (N, C, H, W), dy (N, C, OH, OW), dx like x. Ties: the FIRST maximum in
    /// row-major window order takes the whole gradient (deterministic, identical on every backend). With
    /// <paramref name="accumulate"/> false, dx = that instead, and dx's old contents (a fresh, uninitialised gradient from
    /// <see cref="Autograd.Tape.GradForOverwrite"/>) must not matter.
    /// </summary>
    void MaxPool2DBackward(Tensor x, Tensor dy, Tensor dx, in PoolGeometry g, bool accumulate);

    /// <summary>y[n, c] = mean over H·W of x[n, c]: x (N, C, H, W) → y (N, C).</summary>
    void GlobalAvgPoolForward(Tensor x, Tensor y);

    /// <summary>dx[n, c, h, w] += dy[n, c] / (H·W): dy (N, C) → dx (N, C, H, W).</summary>
    void GlobalAvgPoolBackward(Tensor dy, Tensor dx);

    // ---------------------------------------------------------------- activations

    /// <summary>y = max(x, 0). y may be x.</summary>
    void ReluForward(Tensor x, Tensor y);

    /// <summary>dx += dy where y &gt; 0 (the ReLU's OUTPUT decides, so x need not be kept).</summary>
    void ReluBackward(Tensor y, Tensor dy, Tensor dx);

    /// <summary>
    /// Inverted dropout: mask[i] = 0 with probability rate, else 1/(1−rate); y = x · mask. The keep/drop decision for element i
    /// is a pure function of (seed, i) — a counter-based hash — so every backend draws the same mask for the same seed.
    /// </summary>
    void DropoutForward(Tensor x, Tensor y, Tensor mask, float rate, ulong seed);

    /// <summary>dx += dy · mask.</summary>
    void DropoutBackward(Tensor dy, Tensor mask, Tensor dx);

    // ---------------------------------------------------------------- loss

    /// <summary>
    /// Fused, numerically stable softmax + cross-entropy, mean over the batch: logits (N, K), labels (N) holding class indices
    /// as floats → probabilities (N, K), loss (1).
    /// </summary>
    void SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probabilities, Tensor loss);

    /// <summary>dLogits += dLoss[0] · (probabilities − onehot(labels)) / N.</summary>
    void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, Tensor dLoss, Tensor dLogits);

    // ---------------------------------------------------------------- optimisers

    /// <summary>One fused Adam update of a parameter and its moments (see <see cref="AdamStep"/> for the formula).</summary>
    void AdamUpdate(Tensor parameter, Tensor gradient, Tensor m, Tensor v, in AdamStep step);

    /// <summary>SGD with momentum: velocity ← momentum·velocity − lr·g; p ← p + velocity.</summary>
    void SgdUpdate(Tensor parameter, Tensor gradient, Tensor velocity, float learningRate, float momentum);
}
