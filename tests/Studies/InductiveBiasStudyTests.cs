using System.Text.Json;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;
using NativeConv.Tests.Data;
using SkiaSharp;

namespace NativeConv.Tests.Studies;

/// <summary>
/// shift-study, permutation-study and sample-efficiency end to end on small subsets of the real Fashion-MNIST, in-process through
/// the real command line: the outputs exist, report.md shows the numbers results.json holds, accuracy at shift 0 is the plain
/// test accuracy of the same weights, and every unit recorded what it trained on.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class InductiveBiasStudyTests() : NativeConv.Tests.Support.StudyRunsRoot("nativeconv-bias-")
{
    private string RunStudy(string verb, params string[] extra)
    {
        var (code, output, error) = NativeConv.Tests.Support.Cli.Run(Study(verb, extra));
        Assert.True(code == 0, error + output);
        var folders = Directory.GetDirectories(Root, verb + "-*");
        Assert.Single(folders);
        Assert.Contains($"Run folder: {folders[0]}", output);
        Assert.DoesNotContain("Unsupported", output + error);
        foreach (var file in new[] { "results.json", "report.md" }) Assert.True(File.Exists(Path.Combine(folders[0], file)), file);
        return folders[0];
    }

    private static void AssertPlot(string folder, string svg)
    {
        Assert.True(File.Exists(Path.Combine(folder, svg)), svg);
        using var bitmap = SKBitmap.Decode(Path.Combine(folder, Path.ChangeExtension(svg, ".png")));
        Assert.NotNull(bitmap);
        Assert.Equal((Plots.DefaultWidth, Plots.DefaultHeight), (bitmap.Width, bitmap.Height));
    }

    /// <summary>A number of results.json ("NaN" is written as a string).</summary>
    private static double D(JsonElement e) => e.ValueKind == JsonValueKind.String ? double.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : e.GetDouble();

    private static SeedInterval ReadInterval(JsonElement e) => new(D(e.GetProperty("mean")), D(e.GetProperty("std")),
        e.GetProperty("count").GetInt32(), D(e.GetProperty("low")), D(e.GetProperty("high")));

    private static string Interval(JsonElement e) => ReadInterval(e).FormatPercent();

    [Theory]
    [InlineData("shift-study")]
    [InlineData("permutation-study")]
    [InlineData("sample-efficiency")]
    public void Each_verb_has_the_study_options_and_a_dataset_choice(string verb)
    {
        var (code, output, _) = NativeConv.Tests.Support.Cli.Run(verb, "--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--dataset", "--models", "--seeds", "--epochs", "--limit", "--resume", "--device", "--out" })
            Assert.Contains(option, output);
        Assert.Equal(verb == "shift-study", output.Contains("--augment-shift", StringComparison.Ordinal));
        // A model of the other dataset is a usage error that names the study's models.
        var (bad, _, error) = NativeConv.Tests.Support.Cli.Run(Study(verb, "--dataset", "cifar10", "--models", "fmnist-cnn", "--limit", "100", "--epochs", "1"));
        Assert.Equal(2, bad);
        Assert.Contains("cifar-dense", error);
    }

    [Fact]
    public void Shift_study_writes_curves_whose_shift_0_is_the_plain_test_accuracy()
    {
        string folder = RunStudy("shift-study", "--limit", "400", "--epochs", "1", "--seeds", "2", "--augment-shift", "2");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var models = json.RootElement.GetProperty("models");
        Assert.Equal(8, models.GetArrayLength());
        foreach (var m in models.EnumerateArray())
        {
            var shift = m.GetProperty("extra").GetProperty("shift");
            var mean = shift.GetProperty("mean").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal(7, mean.Length);
            // Shift 0 went through the transform; the same weights must give exactly the plain test accuracy.
            Assert.Equal(m.GetProperty("test").GetProperty("accuracy").GetDouble(), mean[0]);
            Assert.Equal(mean[0], shift.GetProperty("random")[0].GetDouble());
            Assert.Equal(8, shift.GetProperty("by_direction").GetArrayLength());
            double meanOfDirections = shift.GetProperty("by_direction").EnumerateArray().Average(d => d[6].GetDouble());
            Assert.Equal(meanOfDirections, mean[6], 12);
        }
        Assert.Equal(["fmnist-mlp", "fmnist-cnn", "fmnist-mlp+shift2", "fmnist-cnn+shift2"],
            json.RootElement.GetProperty("extra").GetProperty("shift_study").EnumerateArray().Select(s => s.GetProperty("unit").GetString()));
        // Same seed, initialisation and order: only the training shifts make the +shift2 unit's first epoch differ.
        double FirstLoss(int index) => models[index].GetProperty("training").GetProperty("history")[0].GetProperty("train_loss").GetDouble();
        Assert.Equal("fmnist-mlp+shift2", models[4].GetProperty("extra").GetProperty("model").GetString());
        Assert.NotEqual(FirstLoss(0), FirstLoss(4));

        // report.md's table rows are results.json's numbers, formatted.
        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        foreach (var s in json.RootElement.GetProperty("extra").GetProperty("shift_study").EnumerateArray())
        {
            var cells = s.GetProperty("mean_curve").EnumerateArray().Select(v => Markdown.Percent(v.GetDouble())).ToList();
            cells.Add(Interval(s.GetProperty("area")));
            var half = s.GetProperty("half_loss_shift");
            cells.Add(half.ValueKind == JsonValueKind.Null ? "> 6 px" : $"{Markdown.Number(half.GetDouble(), 2)} px");
            Assert.Contains($"| {s.GetProperty("unit").GetString()} | {string.Join(" | ", cells)} |", report);
        }
        Assert.Contains("## Accuracy against shift", report);
        Assert.Contains("fmnist-cnn − fmnist-mlp: area under the shift curve", report);
        Assert.Contains("fmnist-cnn+shift2 − fmnist-cnn (what random-shift augmentation adds)", report);
        AssertPlot(folder, "shift-accuracy.svg");
        AssertPlot(folder, "shift-directions-fmnist-cnn.svg");
    }

    [Fact]
    public void A_resumed_shift_study_reads_the_units_measurements_back_and_writes_the_same_numbers()
    {
        string folder = RunStudy("shift-study", "--limit", "200", "--epochs", "1", "--augment-shift", "1");
        string before = File.ReadAllText(Path.Combine(folder, "results.json"));
        var (code, output, error) = NativeConv.Tests.Support.Cli.Run(Study("shift-study", "--limit", "200", "--epochs", "1", "--augment-shift", "1", "--resume", folder));
        Assert.True(code == 0, error + output);
        Assert.Contains("fmnist-cnn+shift1: already finished", output);
        // The curves now come back from each unit's result.json (JSON, not the objects of the run that trained them).
        using var first = JsonDocument.Parse(before);
        using var second = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        string Summary(JsonDocument d) => d.RootElement.GetProperty("extra").GetProperty("shift_study").GetRawText();
        Assert.Equal(4, second.RootElement.GetProperty("extra").GetProperty("shift_study").GetArrayLength());
        Assert.Equal(Summary(first), Summary(second));
        Assert.Contains("| fmnist-cnn+shift1 |", File.ReadAllText(Path.Combine(folder, "report.md")));
    }

    [Fact]
    public void Merge_rebuilds_the_definition_a_run_was_made_with()
    {
        var shift = StudyDefinition.All.Single(s => s.Name == "shift-study");
        var saved = new Dictionary<string, string> { [StudyFolder.ModelsKey] = "fmnist-mlp,fmnist-cnn,fmnist-mlp+shift3,fmnist-cnn+shift3" };
        Assert.Equal(["fmnist-mlp", "fmnist-cnn", "fmnist-mlp+shift3", "fmnist-cnn+shift3"], InductiveBias.AsRun(shift, new StudySettings(), saved).Models);
        var sizes = StudyDefinition.All.Single(s => s.Name == "sample-efficiency-cifar10");
        Assert.Equal(["cifar-dense+n1000", "cifar-dense+all", "cifar-medium+n1000", "cifar-medium+all"],
            InductiveBias.AsRun(sizes, new StudySettings { Limit = 2000 }, saved).Models);
        Assert.Same(StudyDefinition.Fmnist, InductiveBias.AsRun(StudyDefinition.Fmnist, new StudySettings(), saved));
    }

    [Fact]
    public void Permutation_study_reports_the_change_and_whether_the_MLP_change_is_within_noise()
    {
        string folder = RunStudy("permutation-study", "--limit", "400", "--epochs", "1", "--seeds", "2", "--seed", "5");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var root = json.RootElement;
        // The permuted units trained and were tested with the run's permutation (seed 5).
        var permutation = ImageTransforms.PixelPermutation(28, 28, 5);
        var bytes = new byte[permutation.Length * sizeof(int)];
        Buffer.BlockCopy(permutation, 0, bytes, 0, bytes.Length);
        string digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        int permuted = 0;
        foreach (var m in root.GetProperty("models").EnumerateArray())
        {
            bool isPermuted = m.GetProperty("extra").GetProperty("model").GetString()!.EndsWith("+permuted", StringComparison.Ordinal);
            Assert.Equal(isPermuted, m.GetProperty("extra").TryGetProperty("permutation", out var record));
            if (!isPermuted) continue;
            permuted++;
            Assert.Equal(digest, record.GetProperty("sha256").GetString());
        }
        Assert.Equal(4, permuted);

        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        var rows = root.GetProperty("extra").GetProperty("permutation_study");
        Assert.Equal(["fmnist-mlp", "fmnist-cnn"], rows.EnumerateArray().Select(r => r.GetProperty("model").GetString()));
        foreach (var r in rows.EnumerateArray())
        {
            // The change is the paired mean of permuted − plain over the two seeds.
            string model = r.GetProperty("model").GetString()!;
            double Accuracy(string unit, int seed) => root.GetProperty("models").EnumerateArray()
                .Single(m => m.GetProperty("extra").GetProperty("model").GetString() == unit && m.GetProperty("extra").GetProperty("seed").GetInt32() == seed)
                .GetProperty("test").GetProperty("accuracy").GetDouble();
            double change = ((Accuracy(model + "+permuted", 5) - Accuracy(model, 5)) + (Accuracy(model + "+permuted", 6) - Accuracy(model, 6))) / 2;
            Assert.Equal(change, r.GetProperty("change").GetProperty("mean").GetDouble(), 12);
            var interval = ReadInterval(r.GetProperty("change"));
            bool within = r.GetProperty("within_noise").GetBoolean();
            Assert.Equal(interval.Low <= 0 && 0 <= interval.High, within);
            Assert.Contains($"| {model} | {Interval(r.GetProperty("plain"))} | {Interval(r.GetProperty("permuted"))} | {interval.FormatPoints()} | {(within ? "yes" : "no")} |", report);
        }
        bool mlpWithin = rows[0].GetProperty("within_noise").GetBoolean();
        Assert.Contains(mlpWithin ? "The dense model's change is within noise" : "The dense model's change is NOT within noise", report);
    }

    [Fact]
    public void Sample_efficiency_trains_nested_sizes_and_reports_the_curve()
    {
        string folder = RunStudy("sample-efficiency", "--limit", "2500", "--epochs", "1");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var root = json.RootElement;
        var trained = root.GetProperty("models").EnumerateArray()
            .Select(m => (Unit: m.GetProperty("extra").GetProperty("model").GetString(), Images: m.GetProperty("extra").GetProperty("sample_size").GetProperty("train_images").GetInt32(),
                          Epoch: m.GetProperty("training").GetProperty("history")[0]))
            .ToList();
        Assert.Equal(["fmnist-mlp+n1000", "fmnist-mlp+n2000", "fmnist-mlp+all", "fmnist-cnn+n1000", "fmnist-cnn+n2000", "fmnist-cnn+all"], trained.Select(t => t.Unit));
        // 2,500 images less the 10 % validation split: 2,250 for "all".
        Assert.Equal([1000, 2000, 2250, 1000, 2000, 2250], trained.Select(t => t.Images));

        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        var curves = root.GetProperty("extra").GetProperty("sample_efficiency");
        Assert.Equal(2, curves.GetArrayLength());
        foreach (var c in curves.EnumerateArray())
            foreach (var p in c.GetProperty("points").EnumerateArray())
            {
                double accuracy = root.GetProperty("models").EnumerateArray()
                    .Single(m => m.GetProperty("extra").GetProperty("model").GetString() == p.GetProperty("unit").GetString()).GetProperty("test").GetProperty("accuracy").GetDouble();
                Assert.Equal(accuracy, p.GetProperty("test_accuracy").GetProperty("mean").GetDouble());
                Assert.Contains($"| {c.GetProperty("model").GetString()} | {Markdown.Count(p.GetProperty("train_images").GetInt32())} | {Interval(p.GetProperty("test_accuracy"))} |", report);
            }
        Assert.Contains("fmnist-cnn's accuracy at 1,000 images", report);
        AssertPlot(folder, "sample-efficiency.svg");
    }
}
