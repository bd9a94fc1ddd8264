using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Reports;

/// <summary>The plot files written by <see cref="StudyArtifacts.Write"/>, as names relative to the run folder (for report.md).</summary>
public sealed record StandardPlots(
    IReadOnlyDictionary<string, string> LearningCurves,
    string ValidationAccuracy,
    string AccuracyVsParameters,
    string GeneralizationGap);

/// <summary>
/// The files every study run leaves in its folder, from the numbers alone: results.json and the standard plots (one
/// learning-curve figure per model, validation accuracy of all models, test accuracy against parameters, generalisation
/// gap). The study's own text (report.md with its findings) references the returned plot names.
/// </summary>
public static class StudyArtifacts
{
    public const string ResultsFileName = "results.json";

    /// <summary>Stamps <see cref="StudyResults.Finished"/> (unless it has <see cref="StudyResults.Parts"/>), writes results.json and the plots into <paramref name="runDirectory"/>.</summary>
    public static StandardPlots Write(string runDirectory, StudyResults results)
    {
        ArgumentNullException.ThrowIfNull(results);
        Directory.CreateDirectory(runDirectory);
        // With recorded parts the caller already set the window (first start, last end).
        if (results.Parts is not { Count: > 0 }) results.Finished = DateTimeOffset.Now;
        ResultsJson.Write(Path.Combine(runDirectory, ResultsFileName), results);

        var curves = new Dictionary<string, string>(StringComparer.Ordinal);
        var trained = new List<ModelResult>();
        foreach (var m in results.Models)
        {
            if (m.Training is not { History.Count: > 0 } training) continue;
            trained.Add(m);
            string file = $"curves-{FileSafe(m.Name)}.svg";
            Plots.LearningCurves(Path.Combine(runDirectory, file), m.Name, training.History,
                training.RestoredBestWeights ? training.BestEpoch : 0);
            curves[m.Name] = file;
        }

        const string validationFile = "validation-accuracy.svg", sizeFile = "accuracy-vs-parameters.svg", gapFile = "generalisation-gap.svg";
        var series = new List<(string, IReadOnlyList<EpochMetrics>)>();
        foreach (var m in trained) series.Add((m.Name, m.Training!.History));
        Plots.CompareCurves(Path.Combine(runDirectory, validationFile), $"{results.Study}: validation accuracy", "accuracy (%)",
            series, e => e.ValidationAccuracy * 100);

        var points = new List<SizeAccuracyPoint>();
        var gaps = new List<GapBar>();
        foreach (var m in trained)
        {
            if (m.Test is null || m.Training!.FinalEpoch is not { } final) continue;
            if (m.Parameters > 0) points.Add(new SizeAccuracyPoint(m.Name, m.Parameters, m.Test.Accuracy));
            gaps.Add(new GapBar(m.Name, final.TrainAccuracy, final.ValidationAccuracy));
        }
        Plots.AccuracyVsParameters(Path.Combine(runDirectory, sizeFile), $"{results.Study}: test accuracy vs trainable parameters", points);
        Plots.GeneralizationGap(Path.Combine(runDirectory, gapFile), $"{results.Study}: generalisation gap (train − validation accuracy)", gaps);
        return new StandardPlots(curves, validationFile, sizeFile, gapFile);
    }

    /// <summary>A model name as a file-name fragment: letters, digits, '-', '_' and '.' kept, anything else '_'.</summary>
    public static string FileSafe(string name)
    {
        var chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] is '-' or '_' or '.')) chars[i] = '_';
        return new string(chars);
    }
}
