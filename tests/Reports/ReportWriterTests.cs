using System.Text.Json;
using System.Xml.Linq;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;

namespace NativeConv.Tests.Reports;

public sealed class ReportWriterTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "nativeconv-reports-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static TrainingResult History(int epochs, int best, double offset)
    {
        var list = new List<EpochMetrics>();
        for (int e = 1; e <= epochs; e++)
            list.Add(new EpochMetrics(e, 1.0 / e + offset, 0.6 + 0.05 * e, 1.1 / e + 0.02 * e + offset, 0.58 + 0.04 * e, 2.5 * e, 0.3, 1234.5 + e));
        return new TrainingResult(list, best, list[best - 1].ValidationLoss, StopReason.EarlyStopping, RestoredBestWeights: true, TotalSeconds: 42.25);
    }

    private static ModelResult Model(string name, long parameters, int epochs, int best, double testAccuracy) => new()
    {
        Name = name,
        Description = "a | model with a pipe",
        Parameters = parameters,
        Training = History(epochs, best, 0.01 * epochs),
        Test = new EvaluationResult(0.345, testAccuracy, 30, [[8, 1, 1], [0, 10, 0], [2, 0, 8]], 0.5),
        ClassNames = ["cat", "dog", "ship"],
        Extra = { ["kernel_size"] = 3, ["notes"] = "x" },
    };

    private static StudyResults Study()
    {
        var results = StudyResults.Begin("unit-study", new TrainingOptions { Seed = 7, Epochs = 5, Limit = 100 });
        results.Models.Add(Model("mlp", 101_770, 5, 3, 0.8));
        results.Models.Add(Model("cnn", 1_234_567, 4, 4, 0.9));
        results.Settings["data_dir"] = "/data";
        results.Extra["train_images"] = 54000;
        results.Finished = results.Started.AddMinutes(3);
        return results;
    }

    [Fact]
    public void ResultsJsonIsWellFormedAndHoldsEveryNumber()
    {
        string folder = RunDirectory.Create("unit-study", _root);
        string path = Path.Combine(folder, "results.json");
        var study = Study();
        ResultsJson.Write(path, study);

        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        Assert.Equal("unit-study", root.GetProperty("study").GetString());
        Assert.Equal(7, root.GetProperty("options").GetProperty("seed").GetInt32());
        Assert.Equal(100, root.GetProperty("options").GetProperty("limit").GetInt32());
        Assert.Equal(Environment.ProcessorCount, root.GetProperty("machine").GetProperty("logical_cores").GetInt32());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("machine").GetProperty("cpu_model").GetString()));
        string commit = root.GetProperty("git_commit").GetString()!;
        Assert.True(commit == "unknown" || (commit.Length == 40 && commit.All(Uri.IsHexDigit)), commit);
        Assert.True(root.TryGetProperty("started", out _) && root.TryGetProperty("finished", out _));

        var models = root.GetProperty("models");
        Assert.Equal(2, models.GetArrayLength());
        var cnn = models[1];
        Assert.Equal(1_234_567, cnn.GetProperty("parameters").GetInt64());
        var epochs = cnn.GetProperty("training").GetProperty("history");
        Assert.Equal(4, epochs.GetArrayLength());
        Assert.Equal(study.Models[1].Training!.History[2].ValidationLoss, epochs[2].GetProperty("validation_loss").GetDouble());
        Assert.Equal("early_stopping", cnn.GetProperty("training").GetProperty("stop_reason").GetString());
        Assert.Equal(0.9, cnn.GetProperty("test").GetProperty("accuracy").GetDouble());
        Assert.Equal(10, cnn.GetProperty("test").GetProperty("confusion")[1][1].GetInt32());
        Assert.Equal(3, cnn.GetProperty("extra").GetProperty("kernel_size").GetInt32());

        // And it reads back through the typed model.
        var back = ResultsJson.Read(path);
        Assert.Equal(study.Models[0].Training!.History.Count, back.Models[0].Training!.History.Count);
        Assert.Equal(study.Models[0].Training!.History[1], back.Models[0].Training!.History[1]);
        Assert.Equal(study.Options, back.Options);
        Assert.Single(FilesBesideTheLock(folder)); // no temporary file left beside it
    }

    [Fact]
    public void NonFiniteNumbersStayValidJson()
    {
        var study = Study();
        study.Models[0] = new ModelResult { Name = "nan", Training = new TrainingResult([], 0, double.PositiveInfinity, StopReason.Interrupted, false, 0) };
        string text = ResultsJson.Serialize(study);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("Infinity", json.RootElement.GetProperty("models")[0].GetProperty("training").GetProperty("best_validation_loss").GetString());
    }

    [Fact]
    public void MarkdownSummaryTableHasTheExpectedRowsAndEscapesCells()
    {
        var study = Study();
        var doc = new MarkdownDocument()
            .Heading(1, "Unit study")
            .Paragraph("Numbers only.")
            .Table(ReportTables.Summary(study.Models))
            .Table(ReportTables.History(study.Models[0]))
            .Table(ReportTables.PerClassAccuracy(study.Models, ["cat", "dog", "ship"]))
            .Table(ReportTables.Confusion(study.Models[0], ["cat", "dog", "ship"]))
            .Image("curves", "mlp curves.svg");
        string path = Path.Combine(_root, "report.md");
        doc.Save(path);
        string[] lines = File.ReadAllLines(path);

        Assert.Equal("# Unit study", lines[0]);
        int header = Array.FindIndex(lines, l => l.StartsWith("| Model |", StringComparison.Ordinal));
        Assert.True(header > 0);
        Assert.Equal("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", lines[header + 1]);
        Assert.StartsWith("| mlp | 101,770 | 5 | 3 | 75.00 % |", lines[header + 2]);
        Assert.StartsWith("| cnn | 1,234,567 | 4 | 4 | 80.00 % | 74.00 % | 90.00 % | 0.3450 | +6.00 pp |", lines[header + 3]); // gap = train − validation accuracy
        Assert.Contains("| 3 ★ |", File.ReadAllText(path));
        Assert.Contains("| ship | 80.00 % | 80.00 % |", File.ReadAllText(path));
        Assert.Contains("![curves](mlp%20curves.svg)", File.ReadAllText(path));
        // Every table row has the same number of unescaped pipes as its header.
        foreach (var block in File.ReadAllText(path).Split("\n\n"))
        {
            var rows = block.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('|')).ToArray();
            if (rows.Length == 0) continue;
            int pipes = CountPipes(rows[0]);
            Assert.All(rows, r => Assert.Equal(pipes, CountPipes(r)));
        }

        var table = new MarkdownTable("a", "b").AddRow("x | y", "line\nbreak");
        Assert.Equal("| a | b |\n|---|---|\n| x \\| y | line break |\n", table.ToString());
        Assert.Throws<ArgumentException>(() => table.AddRow("only one"));
    }

    private static int CountPipes(string row)
    {
        int n = 0;
        for (int i = 0; i < row.Length; i++)
            if (row[i] == '|' && (i == 0 || row[i - 1] != '\\')) n++;
        return n;
    }

    [Fact]
    public void PlotsAreSvgDocuments()
    {
        var study = Study();
        string folder = RunDirectory.Create("plots", _root);
        string curves = Path.Combine(folder, "curves-mlp.svg");
        string compare = Path.Combine(folder, "val-accuracy.svg");
        string size = Path.Combine(folder, "accuracy-vs-parameters.svg");
        string gap = Path.Combine(folder, "gap.svg");
        Plots.LearningCurves(curves, "mlp", study.Models[0].Training!.History, bestEpoch: 3);
        Plots.CompareCurves(compare, "Validation accuracy", "accuracy (%)",
            study.Models.Select(m => (m.Name, m.Training!.History)).ToList(), e => e.ValidationAccuracy * 100);
        Plots.AccuracyVsParameters(size, "Test accuracy vs size",
            study.Models.Select(m => new SizeAccuracyPoint(m.Name, m.Parameters, m.Test!.Accuracy)).ToList());
        Plots.GeneralizationGap(gap, "Generalisation gap",
            study.Models.Select(m => new GapBar(m.Name, m.Training!.FinalEpoch!.TrainAccuracy, m.Training!.FinalEpoch!.ValidationAccuracy)).ToList());

        foreach (string file in new[] { curves, compare, size, gap })
        {
            var svg = XDocument.Load(file);
            Assert.Equal("svg", svg.Root!.Name.LocalName);
            Assert.Equal("http://www.w3.org/2000/svg", svg.Root.Name.NamespaceName);
            Assert.True(svg.Descendants().Count() > 20, file);
        }
        // The titles are drawn (as text elements: the model name appears in the learning curves).
        Assert.Contains(XDocument.Load(curves).Descendants().Where(e => e.Name.LocalName == "text"), t => t.Value.Contains("mlp"));
        // Each SVG has its PNG beside it (same name), for viewers that show no SVG.
        Assert.Equal(8, FilesBesideTheLock(folder).Length);
        foreach (string file in new[] { curves, compare, size, gap })
        {
            using var png = SkiaSharp.SKBitmap.Decode(Plots.PngFor(file));
            Assert.True(png is { Width: >= Plots.DefaultWidth, Height: Plots.DefaultHeight }, Plots.PngFor(file));
        }
        Assert.Throws<ArgumentException>(() => Plots.AccuracyVsParameters(size, "x", [new SizeAccuracyPoint("zero", 0, 0.5)]));
    }

    [Fact]
    public void RunDirectoriesAreNewAndNamedAfterTheStudy()
    {
        var now = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        string a = RunDirectory.Create("fmnist", _root, now);
        string b = RunDirectory.Create("fmnist", _root, now);
        Assert.Equal("fmnist-20250102-030405", Path.GetFileName(a));
        Assert.Equal("fmnist-20250102-030405-2", Path.GetFileName(b));
        Assert.Throws<ArgumentException>(() => RunDirectory.Create("../escape", _root));
    }

    /// <summary>The folder's files but the run lock that claimed it (<see cref="RunLock"/>).</summary>
    internal static string[] FilesBesideTheLock(string folder) =>
        Directory.GetFiles(folder).Where(f => Path.GetFileName(f) != RunLock.FileName).ToArray();
}
