using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>report.md of a training study: settings, the study table, findings (computed), plots, per-epoch histories.</summary>
public static class StudyReport
{
    public const string FindingsHeading = "Findings";

    /// <summary>
    /// When and from which commit the run was made: one window and the commit that ran every part (and the report
    /// writer's, when another build wrote the report: a merge or a resume that only tested), or, for a run whose parts
    /// ran different builds or did not all stamp their end, each part with its own commit.
    /// </summary>
    internal static string RunProvenance(StudyResults results)
    {
        string dirty = results.GitDirty == true ? " (with uncommitted changes)" : "";
        var parts = results.Parts ?? [];
        var commits = parts.Select(p => p.Commit).Distinct().ToList();
        if (commits.Count <= 1 && commits.FirstOrDefault() is var only && (only is not null || parts.Count == 0) && !parts.Any(Unstamped))
        {
            string commit = only ?? results.GitCommit;
            string writer = commit == results.GitCommit ? dirty : $"; report written by commit `{results.GitCommit}`{dirty}";
            return $"Run {results.Started:yyyy-MM-dd HH:mm} – {results.Finished:HH:mm}, commit `{commit}`{writer}";
        }
        var described = parts.Select(p =>
        {
            string end = p.Finished.Date == p.Started.Date ? $"{p.Finished:HH:mm}" : $"{p.Finished:yyyy-MM-dd HH:mm}";
            string commit = p.Commit is { } c ? $"commit `{c}`" : "commit not recorded";
            string stamp = p.Interrupted == true ? ", end not stamped (killed, or still running when this report was written): its end is its last finished epoch"
                : Unstamped(p) ? ", end not recorded" : "";
            return $"{p.Started:yyyy-MM-dd HH:mm} – {end} ({commit}{stamp})";
        });
        return $"Run in {parts.Count} part{(parts.Count == 1 ? "" : "s")}: {string.Join("; ", described)}; report written by commit `{results.GitCommit}`{dirty}";
    }

    // A part that never stamped its end: marked so, or (a part file from before the marks) ending when it started.
    private static bool Unstamped(RunPart part) => part.Interrupted ?? part.Finished == part.Started;

    public static void Write(string path, StudyDefinition study, StudyResults results, IReadOnlyList<ModelAggregate> aggregates,
        IReadOnlyList<string> findings, StandardPlots plots, string validationLossPlot, IReadOnlyList<string> classNames,
        Action<MarkdownDocument>? studySections = null)
    {
        var document = new MarkdownDocument()
            .Heading(1, study.Title)
            .Paragraph($"Question: {study.Question}")
            .Paragraph($"{RunProvenance(results)}, " +
                       $"{results.Machine.CpuModel}, {results.Machine.LogicalCores} logical cores, {results.Machine.DotNetVersion}, {results.Machine.Simd}.")
            .Code(string.Join("\n", results.Settings.Select(kv => $"{kv.Key}: {kv.Value}")), "text");
        if (results.CpuUsage is { } cpu)
            document.Paragraph($"Machine load{(results.Parts is { Count: > 1 } ? " (of the last part only)" : "")}: {cpu.Describe()} (Rule: {CpuUsage.Rule}.) " +
                               "Times in this report are wall-clock times of this process.");

        // A --models run: say up front that every table, plot and finding below covers only those models.
        var run = aggregates.Select(a => a.Name).ToList();
        if (!study.IsWholeStudy(run))
        {
            var left = study.Models.Where(m => !run.Contains(m)).ToList();
            document.Paragraph($"**This report covers only {string.Join(", ", run)}** (chosen with --models), not the whole study " +
                               $"({study.ModelList}): {string.Join(", ", left)} {(left.Count == 1 ? "was" : "were")} not run, so findings that need " +
                               $"{(left.Count == 1 ? "it" : "them")} are left out.");
        }

        int seeds = aggregates.Count > 0 ? aggregates[0].TestAccuracy.Count : 0;
        document.Heading(2, seeds > 1 ? $"Results (mean ± std over {seeds} seeds)" : "Results")
            .Table(StudyTable(aggregates))
            .Paragraph("Gap = train accuracy − validation accuracy of the kept (best-validation-loss) epoch. Time = training plus validation, all epochs.");

        document.Heading(2, FindingsHeading).Bullets(findings);
        // The study's own measurements (shift curves, permutation table, sample-size curves), right after its findings.
        studySections?.Invoke(document);

        document.Heading(2, "Plots");
        // The PNGs (every viewer shows them); the SVG of each plot lies beside it.
        document.Paragraph("Each plot is also an SVG beside its PNG (same name).");
        document.Image("validation accuracy per epoch", Plots.PngFor(plots.ValidationAccuracy));
        document.Image("validation loss per epoch", Plots.PngFor(validationLossPlot));
        document.Image("test accuracy vs parameters (log scale)", Plots.PngFor(plots.AccuracyVsParameters));
        document.Image("generalisation gap per model", Plots.PngFor(plots.GeneralizationGap));
        foreach (var (model, file) in plots.LearningCurves) document.Image($"learning curves: {model}", Plots.PngFor(file));
        WritePicturesAndDiagrams(document, Path.GetDirectoryName(Path.GetFullPath(path))!, aggregates);

        document.Heading(2, "Every run").Table(ReportTables.Summary(results.Models));
        foreach (var model in results.Models)
        {
            document.Heading(3, $"{model.Name}: per epoch ({model.Training?.StopReason.ToString() ?? "—"}; ★ = kept epoch)")
                .Table(ReportTables.History(model));
        }
        if (results.Models.Count > 0 && results.Models[0].Test is not null)
            document.Heading(2, "Test accuracy per class").Table(ReportTables.PerClassAccuracy(results.Models, classNames));
        document.Save(path);
    }

    /// <summary>
    /// The pictures each CNN left in the run folder (filters, feature maps, confusion; see <see cref="ModelPictures"/>) and
    /// every model's architecture as a Mermaid flowchart generated from the model object.
    /// </summary>
    private static void WritePicturesAndDiagrams(MarkdownDocument document, string folder, IReadOnlyList<ModelAggregate> aggregates)
    {
        var zooModels = aggregates.Select(a => StudyDefinition.ZooModel(a.Name)).Where(NativeConv.Layers.ModelZoo.Contains).Distinct().ToList();
        bool headed = false;
        foreach (var model in zooModels)
            foreach (var (caption, file) in ModelPictures.FileNames(model))
            {
                if (!File.Exists(Path.Combine(folder, file))) continue;
                if (!headed) document.Heading(2, "What the CNNs learned (first seed)");
                headed = true;
                document.Image($"{model}: {caption}", file);
            }
        if (zooModels.Count == 0) return;
        document.Heading(2, "Architectures");
        foreach (var model in zooModels)
        {
            var module = NativeConv.Layers.ModelZoo.Create(model, 0);
            document.Heading(3, $"{model} ({Markdown.Count(module.ParameterCount)} parameters)")
                .Code(ArchitectureDiagram.Mermaid(module, NativeConv.Layers.ModelZoo.BatchInputShape(model, 1)), "mermaid");
        }
    }

    /// <summary>The study table: one row per model with its seed statistics.</summary>
    public static MarkdownTable StudyTable(IReadOnlyList<ModelAggregate> aggregates)
    {
        var table = new MarkdownTable(
            ("Model", Align.Left), ("Parameters", Align.Right), ("Peak val. acc.", Align.Right), ("Test acc.", Align.Right),
            ("Test loss", Align.Right), ("Best val. loss", Align.Right), ("Gap (train − val)", Align.Right), ("Epochs", Align.Right),
            ("Best epoch", Align.Right), ("Time", Align.Right), ("Time / epoch", Align.Right));
        foreach (var a in aggregates)
        {
            int decimals = a.Epochs.Count > 1 ? 1 : 0;
            table.AddRow(a.Name, Markdown.Count(a.Parameters), a.PeakValidationAccuracy.FormatPercent(), a.TestAccuracy.FormatPercent(),
                a.TestLoss.FormatNumber(), a.BestValidationLoss.FormatNumber(), a.Gap.Count > 1 ? $"{Markdown.PercentagePoints(a.Gap.Mean)} ± {Markdown.Number(a.Gap.Std * 100, 2)}" : Markdown.PercentagePoints(a.Gap.Mean),
                a.Epochs.FormatNumber(decimals), a.BestEpoch.FormatNumber(decimals), Markdown.Duration(a.TrainSeconds.Mean), Markdown.Duration(a.SecondsPerEpoch.Mean));
        }
        return table;
    }
}
