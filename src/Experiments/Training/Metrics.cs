namespace NativeConv.Experiments.Training;

/// <summary>The numbers of one finished epoch (1-based). Losses are means over images; accuracies are fractions in [0, 1].</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean softmax cross-entropy over the epoch's training images, as the weights changed during the epoch (as Keras reports it).</param>
/// <param name="TrainAccuracy">Fraction of training images classified correctly during the epoch.</param>
/// <param name="ValidationLoss">Mean loss on the validation set after the epoch (eval mode, no dropout).</param>
/// <param name="ValidationAccuracy">Validation accuracy after the epoch.</param>
/// <param name="TrainSeconds">Wall-clock seconds of the epoch's training steps.</param>
/// <param name="ValidationSeconds">Wall-clock seconds of the validation pass.</param>
/// <param name="ImagesPerSecond">Training images per second of training-step time.</param>
public sealed record EpochMetrics(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double ValidationLoss,
    double ValidationAccuracy,
    double TrainSeconds,
    double ValidationSeconds,
    double ImagesPerSecond)
{
    /// <summary>Train accuracy minus validation accuracy (positive when the model fits the training set better).</summary>
    public double GeneralizationGap => TrainAccuracy - ValidationAccuracy;
}

/// <summary>Loss and accuracy of a model on one labelled set, with the confusion matrix (rows: true class, columns: predicted).</summary>
public sealed record EvaluationResult(double Loss, double Accuracy, int Count, int[][] Confusion, double Seconds)
{
    /// <summary>Per class: the fraction of its images predicted correctly (recall); NaN for a class with no images.</summary>
    public double[] PerClassAccuracy()
    {
        var result = new double[Confusion.Length];
        for (int c = 0; c < Confusion.Length; c++)
        {
            long total = 0;
            foreach (int n in Confusion[c]) total += n;
            result[c] = total == 0 ? double.NaN : (double)Confusion[c][c] / total;
        }
        return result;
    }
}

/// <summary>How a call to <see cref="Trainer.Fit"/> ended.</summary>
public enum StopReason
{
    /// <summary>Ran the configured number of epochs.</summary>
    MaxEpochs,
    /// <summary>The validation loss stopped improving for <see cref="TrainingOptions.Patience"/> epochs.</summary>
    EarlyStopping,
    /// <summary>A callback asked to stop.</summary>
    Requested,
    /// <summary>Cancelled (Ctrl-C): the state was checkpointed and the run can be resumed.</summary>
    Interrupted,
}

/// <summary>The outcome of <see cref="Trainer.Fit"/>: the per-epoch history and how training ended.</summary>
public sealed record TrainingResult(
    IReadOnlyList<EpochMetrics> History,
    int BestEpoch,
    double BestValidationLoss,
    StopReason StopReason,
    bool RestoredBestWeights,
    double TotalSeconds)
{
    /// <summary>The metrics of the epoch whose weights the model holds after <see cref="Trainer.Fit"/> (the best one when restored).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public EpochMetrics? FinalEpoch
    {
        get
        {
            if (History.Count == 0) return null;
            if (RestoredBestWeights)
                foreach (var e in History)
                    if (e.Epoch == BestEpoch) return e;
            return History[^1];
        }
    }

    /// <summary>Training images per second over every epoch's training steps.</summary>
    public double MeanImagesPerSecond
    {
        get
        {
            double images = 0, seconds = 0;
            foreach (var e in History)
            {
                images += e.ImagesPerSecond * e.TrainSeconds;
                seconds += e.TrainSeconds;
            }
            return seconds > 0 ? images / seconds : 0;
        }
    }
}
