using System.Text.Json;
using System.Xml.Linq;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tests.Training;
using Spectre.Console;

namespace NativeConv.Tests.Reports;

/// <summary>A miniature study end to end: splits, two trained models, results.json, plots, report.md, console table.</summary>
// Fit sets Engine.Threads (process-wide): run alone, beside the other tests that set it or measure allocation.
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)]
public sealed class StudyArtifactsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "nativeconv-study-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void AMiniatureStudyLeavesResultsPlotsAndAReport()
    {
        var options = new TrainingOptions { Seed = 3, Threads = 2, Epochs = 3, BatchSize = 16, Patience = 0, LearningRate = 1e-2f, Limit = 150 };
        var splits = StudySplits.Prepare(SyntheticImages.Create("train", 300, 1), SyntheticImages.Create("test", 200, 2), options);
        Assert.Equal(135, splits.Train.Count);
        Assert.Equal(15, splits.Validation.Count);
        Assert.Equal(150, splits.Test.Count);

        var results = StudyResults.Begin("mini", options);
        // An interactive console writing into a string: the live progress bar renders as it would in a terminal.
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.Yes, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.Yes,
        });
        console.Profile.Width = 200;
        foreach (int hidden in new[] { 4, 32 })
        {
            var model = new Sequential(new Flatten(), new Dense(16, hidden), new ReLU(), new Dense(hidden, 3));
            model.Initialize(options.Seed);
            using var trainer = new Trainer(model, options) { Progress = new SpectreTrainingProgress(console) };
            var training = trainer.Fit(splits.Train, splits.Validation);
            var test = trainer.Evaluate(splits.Test);
            results.Models.Add(ModelResult.From($"mlp-{hidden}", model, training, test, splits.Train.ClassNames));
        }
        Assert.Contains("epoch 3/3", output.ToString()); // the Spectre progress display ran and kept its final line

        string folder = RunDirectory.Create(results.Study, _root);
        var plots = StudyArtifacts.Write(folder, results);
        new MarkdownDocument()
            .Heading(1, "Mini study")
            .Table(ReportTables.Summary(results.Models))
            .Image("accuracy vs parameters", plots.AccuracyVsParameters)
            .Save(Path.Combine(folder, "report.md"));
        ReportTables.PrintSummary(console, results.Models, "mini");

        var files = ReportWriterTests.FilesBesideTheLock(folder).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(["accuracy-vs-parameters.png", "accuracy-vs-parameters.svg", "curves-mlp-32.png", "curves-mlp-32.svg", "curves-mlp-4.png",
            "curves-mlp-4.svg", "generalisation-gap.png", "generalisation-gap.svg", "report.md", "results.json", "validation-accuracy.png",
            "validation-accuracy.svg"], files);
        foreach (var svg in files.Where(f => f.EndsWith(".svg")))
        {
            Assert.Equal("svg", XDocument.Load(Path.Combine(folder, svg)).Root!.Name.LocalName);
            using var png = SkiaSharp.SKBitmap.Decode(Path.Combine(folder, Plots.PngFor(svg))); // the PNG beside every SVG decodes
            Assert.True(png is { Width: >= Plots.DefaultWidth, Height: Plots.DefaultHeight }, svg);
        }

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var models = json.RootElement.GetProperty("models");
        Assert.Equal(2, models.GetArrayLength());
        Assert.Equal(16 * 32 + 32 + 32 * 3 + 3, models[1].GetProperty("parameters").GetInt64());
        Assert.Equal(3, models[0].GetProperty("training").GetProperty("history").GetArrayLength());
        Assert.Equal(150, models[0].GetProperty("test").GetProperty("count").GetInt32());
        Assert.Contains("| mlp-32 | 643 | 3 |", File.ReadAllText(Path.Combine(folder, "report.md")));
        Assert.Contains("mlp-32", output.ToString());
    }

    [Fact]
    public void StudiesWithoutTestResultsStillGetTheirPlots()
    {
        var results = StudyResults.Begin("empty");
        results.Models.Add(new ModelResult { Name = "never trained" });
        string folder = RunDirectory.Create("empty", _root);
        var plots = StudyArtifacts.Write(folder, results);
        Assert.Empty(plots.LearningCurves);
        Assert.True(File.Exists(Path.Combine(folder, plots.GeneralizationGap)));
        Assert.Equal("a_b_c", StudyArtifacts.FileSafe("a/b c"));
    }
}
