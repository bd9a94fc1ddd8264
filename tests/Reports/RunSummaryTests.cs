using System.Xml.Linq;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;
using NativeConv.Tests.Support;
using SkiaSharp;

namespace NativeConv.Tests.Reports;

/// <summary>The `summary` verb over runs/, and the accuracy-vs-parameters plot's log axis.</summary>
public sealed class RunSummaryTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "nativeconv-summary-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static ModelResult Model(string name, long parameters, double accuracy) => new()
    {
        Name = name,
        Parameters = parameters,
        Test = new EvaluationResult(0.5, accuracy, 1000, [[1]], 1),
    };

    private void FakeRun(string folder, string study, params ModelResult[] models)
    {
        var results = StudyResults.Begin(study, new TrainingOptions { Epochs = 30 });
        results.Models.AddRange(models);
        Directory.CreateDirectory(Path.Combine(_root, folder));
        ResultsJson.Write(Path.Combine(_root, folder, StudyArtifacts.ResultsFileName), results);
    }

    [Fact]
    public void The_summary_of_two_runs_plots_and_tables_both()
    {
        FakeRun("fmnist-20261201-100000", "fmnist", Model("fmnist-mlp", 109_386, 0.8812));
        FakeRun("filter-study-20261202-100000", "filter-study", Model("cifar-small-seed42", 12_458, 0.61), Model("cifar-small-seed43", 12_458, 0.63));
        Directory.CreateDirectory(Path.Combine(_root, "cifar-20261203-100000"));
        File.WriteAllText(Path.Combine(_root, "cifar-20261203-100000", "study.json"), "{}"); // an unfinished run: named, skipped

        var (code, output, error) = Cli.Run("summary", "--runs", _root);
        Assert.True(code == 0, error + output);
        string folder = Path.Combine(_root, "summary");
        string table = File.ReadAllText(Path.Combine(folder, RunSummary.TableFileName));
        Assert.Contains("| fmnist | fmnist-mlp | 109,386 | 88.12 % | 1 |", table);
        Assert.Contains("| filter-study | cifar-small | 12,458 | 62.00 % ± 1.41 | 2 |", table); // the two seeds pooled
        Assert.Contains("cifar-20261203-100000: no results.json yet", table);
        Assert.Contains("![test accuracy vs trainable parameters (log scale)](accuracy-vs-parameters.png)", table);

        // The plot has both points: each is a legend entry with its count, and its marker's colour is in the picture.
        string svg = File.ReadAllText(Path.Combine(folder, RunSummary.PlotFileName));
        Assert.Equal("svg", XDocument.Parse(svg).Root!.Name.LocalName);
        using var png = SKBitmap.Decode(Path.Combine(folder, "accuracy-vs-parameters.png"));
        Assert.True(png.Width > Plots.DefaultWidth && png.Height == Plots.DefaultHeight, $"{png.Width} × {png.Height}");
        var collected = RunSummary.Collect(_root);
        Assert.Equal(["cifar-small (filter-study)", "fmnist-mlp (fmnist)"], collected.Rows.Select(r => r.Label));
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < 2; i++)
        {
            var c = palette.GetColor(i);
            Assert.True(CountPixels(png, new SKColor(c.R, c.G, c.B)) > 40, $"point {i}'s colour is missing from the plot");
        }
        var legend = XDocument.Parse(svg).Descendants().Where(e => e.Name.LocalName == "text").Select(t => t.Value).ToList();
        Assert.Contains(legend, t => t.Contains("fmnist-mlp (fmnist) (109,386)"));
        Assert.Contains(legend, t => t.Contains("cifar-small (filter-study) (12,458)"));
        Assert.Contains("fmnist-mlp", output);
        Assert.Contains("filter-study", output);
    }

    private static int CountPixels(SKBitmap bitmap, SKColor color)
    {
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (bitmap.GetPixel(x, y) == color) n++;
        return n;
    }

    [Fact]
    public void An_empty_runs_root_says_so()
    {
        Directory.CreateDirectory(_root);
        var (code, output, _) = Cli.Run("summary", "--runs", _root, "--out", Path.Combine(_root, "s"));
        Assert.Equal(1, code);
        Assert.Contains("0 run(s)", output);
    }

    [Fact]
    public void A_legend_of_every_study_fits_the_picture()
    {
        // `all` at a small --limit gives about 25 rows; the outside legend wrapped into a second column at the default
        // height, and that column was cut off at the right edge. Now the picture grows until one column holds them all.
        var points = Enumerable.Range(0, 27)
            .Select(i => new SizeAccuracyPoint($"fmnist-mlp+permuted-{i} (permutation-study) [limit 600, 1 ep.]", 10_000 + 5_000 * i, 0.5 + 0.01 * i, PointLabel: ""))
            .ToList();
        Directory.CreateDirectory(_root);
        string path = Path.Combine(_root, "many.svg");
        Plots.AccuracyVsParameters(path, "many", points);
        using var png = SKBitmap.Decode(Plots.PngFor(path));
        Assert.True(png.Height >= Plots.LegendColumnHeight(points.Count), $"{png.Width} × {png.Height}");
        // Nothing is drawn in the last columns of pixels: the legend (text and frame) ends inside the picture.
        var background = png.GetPixel(png.Width - 1, 0);
        for (int x = png.Width - 4; x < png.Width; x++)
            for (int y = 0; y < png.Height; y++)
                Assert.True(png.GetPixel(x, y) == background, $"pixel ({x}, {y}) of {png.Width} × {png.Height} is drawn: the legend is cut off");
    }

    [Fact]
    public void Two_models_a_factor_of_two_apart_get_labelled_log_ticks()
    {
        // The plot before: whole decades only, so 109,386 and 206,922 (no decade between them) had no tick label.
        var ticks = Plots.LogTicks(109_386 / 1.78, 206_922 * 1.78);
        Assert.Equal(["100,000", "200,000"], ticks.Select(t => t.Label));
        Assert.Equal(["1,000", "2,000", "5,000", "10,000", "20,000", "50,000", "100,000"], Plots.LogTicks(900, 120_000).Select(t => t.Label));
        Assert.Equal(["2,000", "3,000"], Plots.LogTicks(1_500, 3_500).Select(t => t.Label));
        Assert.All(Plots.LogTicks(12_000, 1_300_000), t => Assert.InRange(t.Value, 12_000, 1_300_000));
    }
}
