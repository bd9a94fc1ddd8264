using System.Buffers;
using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>
    /// Mean softmax cross-entropy: logits (N, K), labels (N) holding class indices 0..K−1 as floats → a (1) loss tensor.
    /// Fused and stable (row max subtracted, log-sum-exp). Backward, w.r.t. the logits only: dLogits += dLoss·(p − onehot)/N.
    /// Throws if the loss comes out NaN or infinite, naming the usual causes, instead of letting a run train on garbage.
    /// </summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, Tensor labels)
    {
        const string op = "SoftmaxCrossEntropy";
        OpChecks.Rank(op, "logits", logits, 2, "(N, K)");
        OpChecks.NonEmptyBatch(op, logits);
        OpChecks.SameBackend(op, logits, labels);
        int batch = logits.Shape[0], classes = logits.Shape[1];
        if (classes == 0)
            throw new ArgumentException($"{op}: logits {logits.Describe()} have no classes; the last layer needs one output per class.");
        if (labels.Length != batch)
            throw new ArgumentException($"{op}: labels {labels.Describe()} hold {labels.Length} values but logits {logits.Describe()} have {batch} rows; pass one class index per sample, shape ({batch}).");
        CheckLabels(op, labels, batch, classes);

        var tape = Tape.Current;
        var probabilities = tape.NewTemporary(logits.Shape, logits.Backend);
        var loss = tape.NewTemporary(new Shape(1), logits.Backend);
        logits.Backend.SoftmaxCrossEntropyForward(logits, labels, probabilities, loss);
        float value = loss.Item();
        if (!float.IsFinite(value))
            throw new InvalidOperationException($"{op}: the loss over logits {logits.Describe()} is {value}: training has diverged or the input holds NaN/Inf. Lower the learning rate, check the inputs are scaled to [0, 1] and contain no NaN, and check the weights were initialised.");

        if (tape.NeedsGrad(logits))
        {
            var node = SoftmaxCrossEntropyNode.Rent();
            node.Logits = logits;
            node.Labels = labels;
            node.Probabilities = probabilities;
            node.Output = loss;
            tape.Record(node);
        }
        return loss;
    }

    // Labels are read on the host (one small copy from a device) so a bad one is reported here, never as a kernel fault.
    private static void CheckLabels(string op, Tensor labels, int batch, int classes)
    {
        var rented = ArrayPool<float>.Shared.Rent(batch);
        try
        {
            var values = rented.AsSpan(0, batch);
            labels.CopyTo(values);
            for (int i = 0; i < batch; i++)
            {
                float label = values[i];
                if (!(label >= 0f && label < classes && label == MathF.Floor(label)))
                    throw new ArgumentException($"{op}: label {label} at index {i} is not a class index in [0, {classes}) for logits of shape ({batch}, {classes}); labels must be integers 0..{classes - 1} stored as floats.");
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    private sealed class SoftmaxCrossEntropyNode : TapeNode<SoftmaxCrossEntropyNode>
    {
        public Tensor Logits = null!, Labels = null!, Probabilities = null!;

        protected internal override void Backward(Tape tape)
        {
            if (Logits.RequiresGrad)
                Logits.Backend.SoftmaxCrossEntropyBackward(Probabilities, Labels, Output.Grad!, tape.GradOf(Logits));
        }

        protected override void Clear() { Logits = null!; Labels = null!; Probabilities = null!; }
    }
}
