using System.Numerics.Tensors;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// Fused softmax + cross-entropy. Stable: each row is shifted by its maximum before exp, so the largest exponent is e⁰ = 1 and
/// logits of ±1000 neither overflow nor lose the answer; the loss is the log-sum-exp form
///   −log softmax(z)[y] = log Σ exp(z − max) − (z[y] − max),
/// with the sum and the loss accumulated in double. Rows run serially: a batch is N·K ≈ 10³ elements, far below the cost of waking threads.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// logits (N, K), labels (N) class indices as floats (validated by the op) → probabilities (N, K); returns the mean loss.
    /// A NaN logit makes its row (and the loss) NaN.
    /// </summary>
    public static double Forward(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, Span<float> probabilities, int batch, int classes)
    {
        if (logits.Length != (long)batch * classes || probabilities.Length != logits.Length || labels.Length != batch || classes < 1)
            throw new ArgumentException($"SoftmaxCrossEntropy.Forward: logits and probabilities must hold {batch}·{classes} elements and labels {batch}.");
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            var row = logits.Slice(n * classes, classes);
            var p = probabilities.Slice(n * classes, classes);
            float max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, p);
            TensorPrimitives.Exp(p, p);
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += p[k];
            TensorPrimitives.Multiply(p, (float)(1.0 / sum), p);
            int label = (int)labels[n];
            total += Math.Log(sum) - ((double)row[label] - max);
        }
        return batch == 0 ? 0 : total / batch;
    }

    /// <summary>probabilities (N, K), labels (N) → dLogits (N, K) += dLoss · (p − onehot(label)) / N.</summary>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels, float dLoss, Span<float> dLogits, int batch, int classes)
    {
        if (probabilities.Length != (long)batch * classes || dLogits.Length != probabilities.Length || labels.Length != batch)
            throw new ArgumentException($"SoftmaxCrossEntropy.Backward: probabilities and dLogits must hold {batch}·{classes} elements and labels {batch}.");
        if (batch == 0) return;
        float scale = dLoss / batch;
        for (int n = 0; n < batch; n++)
        {
            var p = probabilities.Slice(n * classes, classes);
            var d = dLogits.Slice(n * classes, classes);
            TensorPrimitives.MultiplyAdd(p, scale, d, d);
            d[(int)labels[n]] -= scale;
        }
    }
}
