using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace NativeConv.Experiments.Reports;

/// <summary>One row of the summary: a model of a study, pooled over every seed of every run of that study with the same data.</summary>
/// <param name="Study">The study (results.json's "study").</param>
/// <param name="Model">The model's label without its "-seedN" suffix.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="Limit">The --limit of those runs (null: the full dataset).</param>
/// <param name="Epochs">The maximum epochs of those runs.</param>
/// <param name="Accuracies">Test accuracy of every seed of every run pooled here.</param>
/// <param name="Runs">The run folders pooled here (their names).</param>
public sealed record SummaryRow(string Study, string Model, long Parameters, int? Limit, int Epochs, IReadOnlyList<double> Accuracies, IReadOnlyList<string> Runs)
{
    public double Mean => Accuracies.Average();

    /// <summary>Sample standard deviation (n − 1); NaN for one value.</summary>
    public double Std
    {
        get
        {
            if (Accuracies.Count < 2) return double.NaN;
            double mean = Mean, sum = 0;
            foreach (double a in Accuracies) sum += (a - mean) * (a - mean);
            return Math.Sqrt(sum / (Accuracies.Count - 1));
        }
    }

    /// <summary>"fmnist-cnn (kernel-study)", with "[limit 3,000, 2 epochs]" for a run on a subset.</summary>
    public string Label => Limit is { } limit
        ? string.Create(CultureInfo.InvariantCulture, $"{Model} ({Study}) [limit {limit:N0}, {Epochs} ep.]")
        : $"{Model} ({Study})";
}

/// <summary>
/// The `summary` verb's work: reads the results.json of every run folder under a runs root, pools each study's models over
/// seeds and runs (keeping runs on different --limit or --epochs apart: their numbers are not comparable), and writes
/// accuracy-vs-parameters (SVG + PNG, log x; the points named by the legend, whose labels would overlap beside them) and
/// summary.md (the table, and the runs read or skipped).
/// </summary>
public static partial class RunSummary
{
    public const string PlotFileName = "accuracy-vs-parameters.svg", TableFileName = "summary.md";

    /// <summary>What was read: the pooled rows (study, then parameters order), and the folders skipped with why.</summary>
    public sealed record Collected(IReadOnlyList<SummaryRow> Rows, IReadOnlyList<string> Runs, IReadOnlyList<(string Folder, string Why)> Skipped);

    /// <summary>Reads every &lt;root&gt;/*/results.json (a folder without one, e.g. an interrupted run, is skipped and named).</summary>
    public static Collected Collect(string root)
    {
        var groups = new Dictionary<(string, string, int?, int), (long Parameters, List<double> Accuracies, SortedSet<string> Runs)>();
        var runs = new List<string>();
        var skipped = new List<(string, string)>();
        if (!Directory.Exists(root)) return new Collected([], [], [(root, "no such folder")]);
        foreach (var folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(folder);
            string file = Path.Combine(folder, StudyArtifacts.ResultsFileName);
            if (!File.Exists(file))
            {
                if (File.Exists(Path.Combine(folder, "study.json"))) skipped.Add((name, "no results.json yet (unfinished or interrupted)"));
                continue;
            }
            StudyResults results;
            try { results = ResultsJson.Read(file); }
            catch (Exception e) when (e is JsonException or InvalidDataException or IOException or NotSupportedException)
            {
                skipped.Add((name, $"results.json unreadable: {e.Message}"));
                continue;
            }
            runs.Add(name);
            int? limit = results.Options?.Limit;
            int epochs = results.Options?.Epochs ?? 0;
            foreach (var model in results.Models)
            {
                if (model.Test is not { } test || !double.IsFinite(test.Accuracy) || model.Parameters <= 0) continue;
                var key = (results.Study, SeedSuffix().Replace(model.Name, ""), limit, epochs);
                if (!groups.TryGetValue(key, out var group))
                    groups[key] = group = (model.Parameters, new List<double>(), new SortedSet<string>(StringComparer.Ordinal));
                group.Accuracies.Add(test.Accuracy);
                group.Runs.Add(name);
            }
        }
        var rows = groups
            .Select(g => new SummaryRow(g.Key.Item1, g.Key.Item2, g.Value.Parameters, g.Key.Item3, g.Key.Item4, g.Value.Accuracies, g.Value.Runs.ToList()))
            .OrderBy(r => r.Study, StringComparer.Ordinal).ThenBy(r => r.Limit ?? int.MaxValue).ThenBy(r => r.Parameters).ThenBy(r => r.Model, StringComparer.Ordinal)
            .ToList();
        return new Collected(rows, runs, skipped);
    }

    /// <summary>Collects <paramref name="root"/> and writes the plot and summary.md into <paramref name="outFolder"/>.</summary>
    public static Collected Write(string root, string outFolder)
    {
        var collected = Collect(root);
        Directory.CreateDirectory(outFolder);
        var points = collected.Rows.Select(r => new SizeAccuracyPoint(r.Label, r.Parameters, r.Mean, PointLabel: "")).ToList();
        Plots.AccuracyVsParameters(Path.Combine(outFolder, PlotFileName),
            $"test accuracy vs trainable parameters: every study under {Path.GetFileName(Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar))}", points);

        var table = new MarkdownTable(("Study", Align.Left), ("Model", Align.Left), ("Parameters", Align.Right), ("Test acc.", Align.Right),
            ("Seeds × runs", Align.Right), ("Data", Align.Left), ("Runs", Align.Left));
        foreach (var r in collected.Rows)
            table.AddRow(r.Study, r.Model, Markdown.Count(r.Parameters),
                r.Accuracies.Count > 1 ? $"{Markdown.Percent(r.Mean)} ± {Markdown.Number(r.Std * 100, 2)}" : Markdown.Percent(r.Mean),
                r.Accuracies.Count.ToString(CultureInfo.InvariantCulture),
                r.Limit is { } limit ? string.Create(CultureInfo.InvariantCulture, $"limit {limit:N0}, {r.Epochs} epochs") : $"full, {r.Epochs} epochs",
                string.Join(", ", r.Runs));
        var document = new MarkdownDocument()
            .Heading(1, "Accuracy against parameters, every study run")
            .Paragraph($"{collected.Runs.Count} run(s) read from `{Path.GetFullPath(root)}`. Each row pools one study's model over every seed of every " +
                       "run with the same data (--limit) and epochs; test accuracy is the mean (± sample std over those seeds and runs).")
            .Image("test accuracy vs trainable parameters (log scale)", Plots.PngFor(PlotFileName))
            .Table(table);
        if (collected.Skipped.Count > 0)
            document.Heading(2, "Not included").Bullets(collected.Skipped.Select(s => $"{s.Folder}: {s.Why}"));
        document.Save(Path.Combine(outFolder, TableFileName));
        return collected;
    }

    [GeneratedRegex(@"-seed\d+$")]
    private static partial Regex SeedSuffix();
}
