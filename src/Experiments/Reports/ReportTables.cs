using Spectre.Console;

namespace NativeConv.Experiments.Reports;

/// <summary>The standard tables of a study report, built from the numbers only (findings are the study's own text).</summary>
public static class ReportTables
{
    /// <summary>One row per model: size, epochs, kept epoch, train/validation/test accuracy, gap, time and speed.</summary>
    public static MarkdownTable Summary(IEnumerable<ModelResult> models)
    {
        var table = new MarkdownTable(
            ("Model", Align.Left), ("Parameters", Align.Right), ("Epochs", Align.Right), ("Best epoch", Align.Right),
            ("Train acc.", Align.Right), ("Val. acc.", Align.Right), ("Test acc.", Align.Right), ("Test loss", Align.Right),
            ("Gap (train − val)", Align.Right), ("Training time", Align.Right), ("Images/s", Align.Right));
        foreach (var m in models)
        {
            var final = m.Training?.FinalEpoch;
            table.AddRow(
                m.Name,
                Markdown.Count(m.Parameters),
                m.Training is null ? "—" : m.Training.History.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                m.Training is null ? "—" : m.Training.BestEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markdown.Percent(final?.TrainAccuracy ?? double.NaN),
                Markdown.Percent(final?.ValidationAccuracy ?? double.NaN),
                Markdown.Percent(m.Test?.Accuracy ?? double.NaN),
                Markdown.Number(m.Test?.Loss ?? double.NaN),
                Markdown.PercentagePoints(m.GeneralizationGap),
                Markdown.Duration(m.Training?.TotalSeconds ?? double.NaN),
                Markdown.Number(m.Training?.MeanImagesPerSecond ?? double.NaN, 0));
        }
        return table;
    }

    /// <summary>One row per epoch of a model: losses, accuracies, time and speed; the kept epoch is marked with a star.</summary>
    public static MarkdownTable History(ModelResult model)
    {
        var table = new MarkdownTable(
            ("Epoch", Align.Right), ("Train loss", Align.Right), ("Train acc.", Align.Right), ("Val. loss", Align.Right),
            ("Val. acc.", Align.Right), ("Time", Align.Right), ("Images/s", Align.Right));
        if (model.Training is null) return table;
        foreach (var e in model.Training.History)
        {
            string epoch = e.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (e.Epoch == model.Training.BestEpoch) epoch += " ★";
            table.AddRow(epoch, Markdown.Number(e.TrainLoss), Markdown.Percent(e.TrainAccuracy), Markdown.Number(e.ValidationLoss),
                Markdown.Percent(e.ValidationAccuracy), Markdown.Duration(e.TrainSeconds + e.ValidationSeconds), Markdown.Number(e.ImagesPerSecond, 0));
        }
        return table;
    }

    /// <summary>Test accuracy per class for each model (columns: models), from the confusion matrices.</summary>
    public static MarkdownTable PerClassAccuracy(IReadOnlyList<ModelResult> models, IReadOnlyList<string> classNames)
    {
        var columns = new List<(string, Align)> { ("Class", Align.Left) };
        foreach (var m in models) columns.Add((m.Name, Align.Right));
        var table = new MarkdownTable(columns.ToArray());
        var perModel = new double[models.Count][];
        for (int i = 0; i < models.Count; i++) perModel[i] = models[i].Test?.PerClassAccuracy() ?? [];
        for (int c = 0; c < classNames.Count; c++)
        {
            var row = new string[models.Count + 1];
            row[0] = classNames[c];
            for (int i = 0; i < models.Count; i++) row[i + 1] = Markdown.Percent(c < perModel[i].Length ? perModel[i][c] : double.NaN);
            table.AddRow(row);
        }
        return table;
    }

    /// <summary>The confusion matrix of a model's test evaluation (rows: true class, columns: predicted).</summary>
    public static MarkdownTable Confusion(ModelResult model, IReadOnlyList<string> classNames)
    {
        var columns = new List<(string, Align)> { ("true \\ predicted", Align.Left) };
        foreach (var name in classNames) columns.Add((name, Align.Right));
        var table = new MarkdownTable(columns.ToArray());
        if (model.Test is null) return table;
        for (int r = 0; r < model.Test.Confusion.Length; r++)
        {
            var row = new string[classNames.Count + 1];
            row[0] = r < classNames.Count ? classNames[r] : r.ToString(System.Globalization.CultureInfo.InvariantCulture);
            for (int c = 0; c < classNames.Count; c++)
                row[c + 1] = c < model.Test.Confusion[r].Length ? Markdown.Count(model.Test.Confusion[r][c]) : "—";
            table.AddRow(row);
        }
        return table;
    }

    /// <summary>Writes the summary of every model as a console table (Spectre).</summary>
    public static void PrintSummary(IAnsiConsole console, IEnumerable<ModelResult> models, string? title = null)
    {
        var table = new Table();
        if (title is not null) table.Title = new TableTitle(Markup.Escape(title));
        table.AddColumn("Model");
        foreach (var header in new[] { "Params", "Epochs", "Best", "Train acc", "Val acc", "Test acc", "Gap (train − val)", "Time", "Images/s" })
            table.AddColumn(new TableColumn(header).RightAligned());
        foreach (var m in models)
        {
            var final = m.Training?.FinalEpoch;
            table.AddRow(
                Markup.Escape(m.Name),
                Markdown.Count(m.Parameters),
                m.Training?.History.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "—",
                m.Training?.BestEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "—",
                Markdown.Percent(final?.TrainAccuracy ?? double.NaN),
                Markdown.Percent(final?.ValidationAccuracy ?? double.NaN),
                Markdown.Percent(m.Test?.Accuracy ?? double.NaN),
                Markdown.PercentagePoints(m.GeneralizationGap),
                Markdown.Duration(m.Training?.TotalSeconds ?? double.NaN),
                Markdown.Number(m.Training?.MeanImagesPerSecond ?? double.NaN, 0));
        }
        console.Write(table);
    }
}
