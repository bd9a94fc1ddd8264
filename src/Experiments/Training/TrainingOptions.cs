using System.Globalization;

namespace NativeConv.Experiments.Training;

/// <summary>
/// Every setting that changes a training run's numbers, in one record: printed at the start of a run, saved in
/// results.json and in every checkpoint (a resume refuses a checkpoint made with different settings).
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Seed for the weights (the caller creates the model from it), the data order and dropout.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>CPU threads for the kernels; the trainer applies it to <c>Engine.Threads</c> when a run starts.</summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Maximum number of epochs (early stopping may end the run sooner).</summary>
    public int Epochs { get; init; } = 30;

    /// <summary>Images per training step (the last step of an epoch takes the remainder).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Epochs without a lower validation loss before training stops (Keras EarlyStopping patience); 0 disables early stopping.</summary>
    public int Patience { get; init; } = 3;

    /// <summary>Restore the weights of the epoch with the lowest validation loss when training ends (Keras restore_best_weights).</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>Use at most this many training images (a seeded stratified subset, for quick runs); null = all.</summary>
    public int? Limit { get; init; }

    /// <summary>Adam's learning rate.</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Fraction of the training set held out for validation (seeded, stratified).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Images per evaluation step (validation and test); larger than the training batch is fine, it only changes speed.</summary>
    public int EvaluationBatchSize { get; init; } = 256;

    /// <summary>The device the run uses, as named on the command line ("cpu", ...).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad setting and its valid range.</summary>
    public TrainingOptions Validate()
    {
        if (Threads is < 1 or > 256) throw new ArgumentException($"Training options: threads must be 1..256; got {Threads}.");
        if (Epochs < 1) throw new ArgumentException($"Training options: epochs must be at least 1; got {Epochs}.");
        if (BatchSize < 1) throw new ArgumentException($"Training options: batch size must be at least 1; got {BatchSize}.");
        if (EvaluationBatchSize < 1) throw new ArgumentException($"Training options: evaluation batch size must be at least 1; got {EvaluationBatchSize}.");
        if (Patience < 0) throw new ArgumentException($"Training options: patience must be >= 0 (0 disables early stopping); got {Patience}.");
        if (Limit is < 1) throw new ArgumentException($"Training options: limit must be at least 1 image; got {Limit}.");
        if (!(LearningRate > 0f) || float.IsInfinity(LearningRate)) throw new ArgumentException($"Training options: the learning rate must be a positive number; got {LearningRate}.");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) throw new ArgumentException($"Training options: the validation fraction must lie strictly between 0 and 1; got {ValidationFraction}.");
        if (string.IsNullOrWhiteSpace(Device)) throw new ArgumentException("Training options: the device name is empty.");
        return this;
    }

    /// <summary>Every setting as (key, value) text, in a fixed order, for printing and for checkpoint metadata.</summary>
    public IReadOnlyList<(string Key, string Value)> ToPairs() =>
    [
        ("seed", Seed.ToString(CultureInfo.InvariantCulture)),
        ("threads", Threads.ToString(CultureInfo.InvariantCulture)),
        ("epochs", Epochs.ToString(CultureInfo.InvariantCulture)),
        ("batch_size", BatchSize.ToString(CultureInfo.InvariantCulture)),
        ("evaluation_batch_size", EvaluationBatchSize.ToString(CultureInfo.InvariantCulture)),
        ("patience", Patience.ToString(CultureInfo.InvariantCulture)),
        ("restore_best_weights", RestoreBestWeights ? "true" : "false"),
        ("limit", Limit?.ToString(CultureInfo.InvariantCulture) ?? "none"),
        ("learning_rate", LearningRate.ToString("R", CultureInfo.InvariantCulture)),
        ("validation_fraction", ValidationFraction.ToString("R", CultureInfo.InvariantCulture)),
        ("device", Device),
    ];

    /// <summary>Writes one aligned "key: value" line per setting.</summary>
    public void Print(TextWriter output)
    {
        var pairs = ToPairs();
        int width = 0;
        foreach (var (key, _) in pairs) width = Math.Max(width, key.Length);
        foreach (var (key, value) in pairs) output.WriteLine($"{(key + ":").PadRight(width + 1)} {value}");
    }
}
