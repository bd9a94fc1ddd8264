using System.Text.Json;
using System.Text.Json.Serialization;
using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Reports;

/// <summary>Everything measured for one model of a study: its size, the training history and the final test evaluation.</summary>
public sealed class ModelResult
{
    /// <summary>The model's name (ModelZoo name, or a study label such as "fmnist-cnn k=5").</summary>
    public required string Name { get; init; }

    /// <summary>One line saying what the model is.</summary>
    public string? Description { get; init; }

    /// <summary>Trainable scalars.</summary>
    public long Parameters { get; init; }

    /// <summary>Per-epoch numbers, how training ended, which epoch's weights were kept.</summary>
    public TrainingResult? Training { get; init; }

    /// <summary>The test-set evaluation of the final (restored) weights; null when the run was interrupted before it.</summary>
    public EvaluationResult? Test { get; init; }

    /// <summary>Class names, in label order (for the confusion matrix and per-class accuracy).</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Study-specific numbers (anything serialisable); keys are written as given.</summary>
    public Dictionary<string, object?> Extra { get; init; } = new();

    /// <summary>The result of one trained model: its size from <paramref name="model"/>, the training outcome and the test evaluation.</summary>
    public static ModelResult From(string name, NativeConv.Layers.Module model, TrainingResult training, EvaluationResult? test,
        IReadOnlyList<string>? classNames = null, string? description = null) => new()
    {
        Name = name,
        Description = description,
        Parameters = model.ParameterCount,
        Training = training,
        Test = test,
        ClassNames = classNames,
    };

    /// <summary>
    /// Train minus validation accuracy of the kept epoch (NaN when there is none) — the one definition of the gap used by
    /// every table, plot and finding, so the test set stays out of model comparison until the final evaluation.
    /// </summary>
    [JsonIgnore]
    public double GeneralizationGap => Training?.FinalEpoch?.GeneralizationGap ?? double.NaN;
}

/// <summary>
/// The results.json of a study run: the settings, the machine and source revision, timestamps, and every model's numbers.
/// Written with <see cref="ResultsJson"/>; findings (prose) belong in report.md, not here.
/// </summary>
public sealed class StudyResults
{
    /// <summary>Bumped when the layout of this file changes incompatibly.</summary>
    public int SchemaVersion { get; init; } = 1;

    public required string Study { get; init; }

    /// <summary>When training began: the start of the first part (a resumed run keeps its original start).</summary>
    public DateTimeOffset Started { get; set; }

    /// <summary>When the last part ended (for a run written in one go: when results.json was written).</summary>
    public DateTimeOffset Finished { get; set; }

    /// <summary>
    /// The stretches of time the run was trained in, oldest first: one per process that worked on it (the first run, each
    /// resume, each shard), so an interrupted and resumed run keeps its real training window. Null: not recorded.
    /// </summary>
    public List<RunPart>? Parts { get; set; }

    /// <summary>`git rev-parse HEAD` of the source tree, or "unknown".</summary>
    public string GitCommit { get; init; } = "unknown";

    /// <summary>Whether tracked files differed from <see cref="GitCommit"/> (null: unknown).</summary>
    public bool? GitDirty { get; init; }

    public required MachineInfo Machine { get; init; }

    /// <summary>The training settings shared by every model of the study.</summary>
    public TrainingOptions? Options { get; init; }

    /// <summary>Any further settings of the command (data directory, model list, ...), as text.</summary>
    public Dictionary<string, string> Settings { get; init; } = new();

    public List<ModelResult> Models { get; init; } = new();

    /// <summary>
    /// CPU time against wall time of the process that trained and wrote this run (its part of a resumed or sharded run),
    /// and whether the machine was busy meanwhile; null: not measured (older runs, merge).
    /// </summary>
    public CpuUsage? CpuUsage { get; set; }

    /// <summary>Study-wide numbers that belong to no single model (e.g. dataset statistics).</summary>
    public Dictionary<string, object?> Extra { get; init; } = new();

    /// <summary>A results object stamped with the current time, the machine and the git commit of the working directory.</summary>
    public static StudyResults Begin(string study, TrainingOptions? options = null) => new()
    {
        Study = study,
        Started = DateTimeOffset.Now,
        Finished = DateTimeOffset.Now,
        GitCommit = GitInfo.Commit(),
        GitDirty = GitInfo.IsDirty(),
        Machine = MachineInfo.Collect(),
        Options = options,
    };
}

/// <summary>
/// One process's stretch of work on a run: when it started and ended (a part that was killed ends at its last finished
/// epoch, see <see cref="Interrupted"/>), which shard it was (null: unsharded) and which commit ran it (null in part files
/// written before commits were recorded).
/// </summary>
public sealed record RunPart(DateTimeOffset Started, DateTimeOffset Finished, string? Shard = null, string? Commit = null)
{
    /// <summary>Null while unknown; true when the process ended without stamping its end (killed), so Finished is its last epoch.</summary>
    public bool? Interrupted { get; init; }
}

/// <summary>Reads and writes results.json (snake_case keys, indented, NaN/Infinity spelled as JSON strings).</summary>
public static class ResultsJson
{
    /// <summary>The serializer settings of results.json, for callers that add their own documents beside it.</summary>
    public static JsonSerializerOptions SerializerOptions { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string Serialize(StudyResults results) => JsonSerializer.Serialize(results, SerializerOptions);

    /// <summary>Writes <paramref name="results"/> to <paramref name="path"/> atomically (a reader never sees half a file).</summary>
    public static void Write(string path, StudyResults results) => AtomicFile.WriteAllText(path, Serialize(results) + "\n");

    /// <summary>Reads a results.json back (the Extra dictionaries come back as <see cref="JsonElement"/> values).</summary>
    public static StudyResults Read(string path) =>
        JsonSerializer.Deserialize<StudyResults>(File.ReadAllText(path), SerializerOptions)
        ?? throw new InvalidDataException($"{path}: the file holds JSON null, not study results.");
}
