using System.Text.Json;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Studies;

/// <summary>One training unit of a study as the extension sees it: the unit's name (zoo model, '+', variant), seed, and the run's settings.</summary>
public sealed record StudyUnit(string Name, int Seed, StudySettings Settings)
{
    /// <summary>The model-zoo name the unit trains (the part before '+').</summary>
    public string Model => StudyDefinition.ZooModel(Name);

    /// <summary>The variant after '+' ("" for the plain model).</summary>
    public string Variant => StudyDefinition.UnitVariant(Name);

    /// <summary>Where the extension says what it is doing (a long measurement), beside the runner's own lines.</summary>
    public TextWriter Log { get; init; } = TextWriter.Null;
}

/// <summary>The study's own report parts: findings (computed) and sections written into report.md after the findings.</summary>
public sealed record StudySections(IReadOnlyList<string> Findings, Action<MarkdownDocument> Write);

/// <summary>
/// What a study adds to the standard train-and-test loop of <see cref="StudyRunner"/> (the shift, permutation and
/// sample-efficiency studies): the data a unit trains on, what it measures after training with the kept weights (stored in
/// the unit's result.json, so a resume keeps it), and the report sections computed from those measurements. The runner's
/// folders, checkpoints, locks, shards and resume are used unchanged.
/// </summary>
public abstract class StudyExtension
{
    /// <summary>The train/validation/test sets of <paramref name="unit"/> (default: the study's splits unchanged).</summary>
    public virtual StudySplits SplitsFor(StudyUnit unit, StudySplits splits) => splits;

    /// <summary>The training-batch augmentation of <paramref name="unit"/> (default: none).</summary>
    public virtual BatchAugmentation? AugmentationFor(StudyUnit unit, StudySplits splits) => null;

    /// <summary>
    /// Called once the unit is trained and tested (the trainer holds the weights the test used); stores what it measures
    /// in <paramref name="result"/>'s Extra.
    /// </summary>
    public virtual void AfterTraining(StudyUnit unit, Trainer trainer, StudySplits splits, ModelResult result) { }

    /// <summary>The study's findings and report sections from every unit's result; may write plots into <paramref name="folder"/>.</summary>
    public abstract StudySections Report(string folder, StudyDefinition study, StudyResults results, IReadOnlyList<ModelAggregate> aggregates);

    /// <summary>
    /// A value a unit stored in its Extra: the object itself in the run that trained it, JSON once read back from result.json.
    /// Null when absent.
    /// </summary>
    public static T? ReadExtra<T>(ModelResult result, string key) where T : class
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Extra.TryGetValue(key, out var value) ? value switch
        {
            T typed => typed,
            JsonElement element => element.Deserialize<T>(ResultsJson.SerializerOptions),
            _ => null,
        } : null;
    }

    /// <summary>The seed a unit's result was trained with (its Extra "seed").</summary>
    public static int SeedOf(ModelResult result) => result.Extra.TryGetValue("seed", out var value) ? value switch
    {
        int seed => seed,
        JsonElement { ValueKind: JsonValueKind.Number } element => element.GetInt32(),
        _ => 0,
    } : 0;

    /// <summary>The unit name of a result (its Extra "model"; the label when absent).</summary>
    public static string UnitOf(ModelResult result) => result.Extra.TryGetValue("model", out var value) ? value switch
    {
        string name => name,
        JsonElement { ValueKind: JsonValueKind.String } element => element.GetString()!,
        _ => result.Name,
    } : result.Name;
}
