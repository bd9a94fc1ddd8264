using System.Text.Json;
using System.Text.Json.Serialization;

namespace NativeConv.Experiments.Training;

/// <summary>
/// Where a training run stands, beyond the weights and the optimiser: everything <see cref="Trainer"/> needs to continue an
/// interrupted run exactly (the data order of an epoch is a function of the seed and the epoch number, so no RNG state
/// beyond these counters is needed; dropout layers keep their own call counters, saved beside this).
/// </summary>
public sealed class TrainerState
{
    /// <summary>Epochs fully finished (train + validation + early-stopping bookkeeping).</summary>
    public int CompletedEpochs { get; set; }

    /// <summary>Training steps already taken in epoch <see cref="CompletedEpochs"/> + 1 (non-zero only after an interruption mid-epoch).</summary>
    public int StepsIntoEpoch { get; set; }

    /// <summary>Sum of per-image losses over the steps taken so far in the current epoch.</summary>
    public double EpochLossSum { get; set; }

    /// <summary>Correctly classified training images so far in the current epoch.</summary>
    public long EpochCorrect { get; set; }

    /// <summary>Training images seen so far in the current epoch.</summary>
    public long EpochSeen { get; set; }

    /// <summary>Training-step seconds so far in the current epoch.</summary>
    public double EpochTrainSeconds { get; set; }

    /// <summary>The lowest validation loss so far (+∞ before the first epoch).</summary>
    public double BestValidationLoss { get; set; } = double.PositiveInfinity;

    /// <summary>The epoch that reached <see cref="BestValidationLoss"/> (0 before the first epoch).</summary>
    public int BestEpoch { get; set; }

    /// <summary>Epochs since the last improvement of the validation loss (the early-stopping counter).</summary>
    public int EpochsWithoutImprovement { get; set; }

    /// <summary>Set when the run has ended for good (max epochs or early stopping); a resume then only reports.</summary>
    public StopReason? FinishedBecause { get; set; }

    /// <summary>Whether the best weights were copied back into the model at the end.</summary>
    public bool RestoredBestWeights { get; set; }

    /// <summary>Wall-clock seconds of all finished epochs (training and validation).</summary>
    public double TotalSeconds { get; set; }

    /// <summary>Training steps taken in total (all epochs).</summary>
    public long TotalSteps { get; set; }

    public List<EpochMetrics> History { get; set; } = new();

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Doubles are written shortest-round-trip, so the state comes back bit for bit; ±∞ needs the named literals.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    public static TrainerState FromJson(string json) =>
        JsonSerializer.Deserialize<TrainerState>(json, s_json) ?? throw new JsonException("the trainer state is JSON null.");

    /// <summary>A deep copy (history entries are immutable records).</summary>
    public TrainerState Clone()
    {
        var copy = (TrainerState)MemberwiseClone();
        copy.History = new List<EpochMetrics>(History);
        return copy;
    }
}
