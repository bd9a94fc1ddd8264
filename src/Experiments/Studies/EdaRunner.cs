using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// The exploratory look at a dataset: sizes and shapes, class balance (train/test per class), pixel statistics before
/// (0–255) and after (/255) normalisation, and a sample grid PNG — written to runs/eda-&lt;dataset&gt;-&lt;timestamp&gt;/
/// as report.md, results.json and samples.png.
/// </summary>
public static class EdaRunner
{
    public const string GridFileName = "samples.png";

    /// <summary>The command-line names of the datasets and their catalogue names.</summary>
    public static readonly IReadOnlyDictionary<string, string> Datasets = new Dictionary<string, string>
    {
        ["fmnist"] = DatasetCatalog.FashionMnistName,
        ["cifar10"] = DatasetCatalog.Cifar10Name,
    };

    public sealed record Outcome(string Folder, DatasetStatistics Statistics);

    public static Outcome Run(string datasetOption, Dataset train, Dataset test, int perClass, string root, string dataDescription, TextWriter output)
    {
        var statistics = DatasetStatistics.Compute(Datasets[datasetOption], train, test);
        string folder = Path.GetFullPath(RunDirectory.Create($"eda-{datasetOption}", root));
        SampleGrid.Write(Path.Combine(folder, GridFileName), train, perClass);

        var results = StudyResults.Begin($"eda-{datasetOption}");
        results.Settings["dataset"] = statistics.Dataset;
        results.Settings["data_dir"] = dataDescription;
        results.Settings["per_class"] = perClass.ToString(System.Globalization.CultureInfo.InvariantCulture);
        results.Extra["statistics"] = statistics;
        StudyArtifactsJson(folder, results);

        var document = new MarkdownDocument()
            .Heading(1, $"{statistics.Dataset}: exploratory data analysis")
            .Paragraph($"Data dir: {dataDescription}. Commit `{results.GitCommit}`.")
            .Heading(2, "Sizes and shapes")
            .Table(SizeTable(statistics))
            .Heading(2, "Class balance")
            .Table(BalanceTable(statistics))
            .Paragraph(BalanceSentence(statistics))
            .Heading(2, "Pixel statistics")
            .Paragraph("Raw = the stored bytes (0–255); normalised = pixel / 255 in [0, 1], exactly what the models see (no standardisation). Std is the population standard deviation over all pixels of the split.")
            .Table(PixelTable(statistics))
            .Heading(2, $"Samples ({perClass} training images per class)")
            .Image("sample images per class", GridFileName);
        document.Save(Path.Combine(folder, "report.md"));

        output.WriteLine(SizeTable(statistics));
        output.WriteLine(BalanceTable(statistics));
        output.WriteLine(BalanceSentence(statistics));
        output.WriteLine();
        output.WriteLine(PixelTable(statistics));
        output.WriteLine($"Run folder: {folder}");
        return new Outcome(folder, statistics);
    }

    private static void StudyArtifactsJson(string folder, StudyResults results)
    {
        results.Finished = DateTimeOffset.Now;
        ResultsJson.Write(Path.Combine(folder, StudyArtifacts.ResultsFileName), results);
    }

    public static MarkdownTable SizeTable(DatasetStatistics s) => new MarkdownTable(("Split", Align.Left), ("Images", Align.Right), ("Image shape (C×H×W)", Align.Left), ("Classes", Align.Right))
        .AddRow("train", Markdown.Count(s.Train.Count), $"{s.Channels}×{s.Height}×{s.Width}", s.ClassNames.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .AddRow("test", Markdown.Count(s.Test.Count), $"{s.Channels}×{s.Height}×{s.Width}", s.ClassNames.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static MarkdownTable BalanceTable(DatasetStatistics s)
    {
        var table = new MarkdownTable(("Label", Align.Right), ("Class", Align.Left), ("Train", Align.Right), ("Train share", Align.Right), ("Test", Align.Right), ("Test share", Align.Right));
        for (int c = 0; c < s.ClassNames.Count; c++)
            table.AddRow(c.ToString(System.Globalization.CultureInfo.InvariantCulture), s.ClassNames[c],
                Markdown.Count(s.Train.ClassCounts[c]), Markdown.Percent((double)s.Train.ClassCounts[c] / s.Train.Count),
                Markdown.Count(s.Test.ClassCounts[c]), Markdown.Percent((double)s.Test.ClassCounts[c] / s.Test.Count));
        table.AddRow("", "total", Markdown.Count(s.Train.Count), Markdown.Percent(1), Markdown.Count(s.Test.Count), Markdown.Percent(1));
        return table;
    }

    /// <summary>"Perfectly balanced: ..." or the smallest and largest class, from the counts.</summary>
    public static string BalanceSentence(DatasetStatistics s)
    {
        string Describe(SplitStatistics split)
        {
            int min = split.ClassCounts.Min(), max = split.ClassCounts.Max();
            return min == max
                ? $"{split.Split}: perfectly balanced, {Markdown.Count(min)} images in every class"
                : $"{split.Split}: from {Markdown.Count(min)} ({s.ClassNames[Array.IndexOf(split.ClassCounts, min)]}) to {Markdown.Count(max)} ({s.ClassNames[Array.IndexOf(split.ClassCounts, max)]}) images per class";
        }
        return $"Class balance — {Describe(s.Train)}; {Describe(s.Test)}. Accuracy is therefore a fair summary metric (chance = {Markdown.Percent(1.0 / s.ClassNames.Count)}).";
    }

    public static MarkdownTable PixelTable(DatasetStatistics s)
    {
        var table = new MarkdownTable(("Split", Align.Left), ("Channel", Align.Left), ("Raw mean", Align.Right), ("Raw std", Align.Right),
            ("Raw min–max", Align.Right), ("Normalised mean", Align.Right), ("Normalised std", Align.Right), ("Normalised min–max", Align.Right));
        foreach (var split in new[] { s.Train, s.Test })
            foreach (var ch in split.Channels)
                table.AddRow(split.Split, ch.Channel, Markdown.Number(ch.RawMean, 2), Markdown.Number(ch.RawStd, 2), $"{ch.RawMin}–{ch.RawMax}",
                    Markdown.Number(ch.NormalizedMean), Markdown.Number(ch.NormalizedStd), $"{Markdown.Number(ch.NormalizedMin, 2)}–{Markdown.Number(ch.NormalizedMax, 2)}");
        return table;
    }
}
