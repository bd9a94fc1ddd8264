using System.Buffers.Binary;
using System.Text.Json;
using System.Xml.Linq;
using NativeConv.Experiments;
using NativeConv.Experiments.Studies;
using NativeConv.Experiments.Training;
using NativeConv.Tests.Data;
using Spectre.Console;

namespace NativeConv.Tests.Studies;

/// <summary>
/// The study commands end to end on small subsets of the real datasets, in-process through the real command line; the
/// data come from $NATIVECONV_DATA or ../shared/data (missing files fail with where to put them).
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class StudyCommandTests() : NativeConv.Tests.Support.StudyRunsRoot("nativeconv-studies-")
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args) => NativeConv.Tests.Support.Cli.Run(args);

    private string SingleFolder(string prefix)
    {
        var folders = Directory.GetDirectories(Root, prefix + "-*");
        Assert.Single(folders);
        return folders[0];
    }

    private static void AssertSvgs(string folder, int atLeast)
    {
        var svgs = Directory.GetFiles(folder, "*.svg");
        Assert.True(svgs.Length >= atLeast, $"{svgs.Length} SVG files in {folder}");
        foreach (var svg in svgs) Assert.Equal("svg", XDocument.Load(svg).Root!.Name.LocalName);
    }

    [Fact]
    public void Fmnist_trains_both_models_and_writes_results_report_and_plots()
    {
        var (code, output, error) = Run(Study("fmnist", "--limit", "3000", "--epochs", "2"));
        Assert.True(code == 0, error + output);
        Assert.StartsWith("command:", output);
        string folder = SingleFolder("fmnist");
        Assert.Contains($"Run folder: {folder}", output);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var root = json.RootElement;
        Assert.Equal("fmnist", root.GetProperty("study").GetString());
        Assert.Equal(42, root.GetProperty("options").GetProperty("seed").GetInt32());
        Assert.Equal(3000, root.GetProperty("options").GetProperty("limit").GetInt32());
        Assert.Equal(64, root.GetProperty("options").GetProperty("batch_size").GetInt32());
        Assert.Equal("2", root.GetProperty("settings").GetProperty("threads").GetString());
        Assert.True(root.GetProperty("machine").GetProperty("logical_cores").GetInt32() > 0);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("git_commit").GetString()));
        var models = root.GetProperty("models");
        Assert.Equal(["fmnist-mlp", "fmnist-cnn"], models.EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        Assert.Equal([109_386L, 206_922L], models.EnumerateArray().Select(m => m.GetProperty("parameters").GetInt64()));
        foreach (var m in models.EnumerateArray())
        {
            Assert.Equal(2, m.GetProperty("training").GetProperty("history").GetArrayLength());
            Assert.Equal(3000, m.GetProperty("test").GetProperty("count").GetInt32());
            Assert.Equal(42, m.GetProperty("extra").GetProperty("seed").GetInt32());
        }
        double cnnTest = models[1].GetProperty("test").GetProperty("accuracy").GetDouble();
        Assert.True(cnnTest > 0.6, $"CNN test accuracy {cnnTest} after 2 epochs on 2,700 images");
        Assert.Equal(2, root.GetProperty("extra").GetProperty("aggregates").GetArrayLength());

        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("| Model | Parameters | Peak val. acc. | Test acc.", report);
        Assert.Contains("| fmnist-cnn | 206,922 |", report);
        Assert.Contains("## Findings", report);
        Assert.Contains("fmnist-cnn", report[report.IndexOf("## Findings", StringComparison.Ordinal)..]);
        Assert.Contains("with 1.89× the parameters", report);
        Assert.Contains("Findings:", output);
        AssertSvgs(folder, 6);
        Assert.True(File.Exists(Path.Combine(folder, "curves-fmnist-cnn.svg")));
    }

    [Fact]
    public void Kernel_study_compares_3x3_with_5x5()
    {
        var (code, output, error) = Run(Study("kernel-study", "--limit", "1000", "--epochs", "1", "--batch-size", "64"));
        Assert.True(code == 0, error + output);
        string folder = SingleFolder("kernel-study");
        var results = NativeConv.Experiments.Reports.ResultsJson.Read(Path.Combine(folder, "results.json"));
        Assert.Equal(["fmnist-cnn", "fmnist-cnn-k5"], results.Models.Select(m => m.Name));
        Assert.Equal(215_370, results.Models[1].Parameters);
        Assert.All(results.Models, m => Assert.Single(m.Training!.History));
        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("+4.1 % relative to fmnist-cnn", report);
        Assert.Contains("Accuracy per parameter:", report);
        Assert.Contains("Convergence:", report);
        AssertSvgs(folder, 6);
    }

    [Theory]
    [InlineData("fmnist", 6000, 1000, 28, 1)]
    [InlineData("cifar10", 5000, 1000, 32, 3)]
    public void Eda_writes_balance_statistics_and_a_valid_png_grid(string dataset, int trainPerClass, int testPerClass, int side, int channels)
    {
        var (code, output, error) = Run("eda", "--dataset", dataset, "--data-dir", RealData.Locator.Root, "--out", Root, "--per-class", "5", "--no-download");
        Assert.True(code == 0, error + output);
        string folder = SingleFolder("eda-" + dataset);

        byte[] png = File.ReadAllBytes(Path.Combine(folder, EdaRunner.GridFileName));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        var (width, height) = SampleGrid.Size(side, side, 10, 5);
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var stats = json.RootElement.GetProperty("extra").GetProperty("statistics");
        Assert.All(stats.GetProperty("train").GetProperty("class_counts").EnumerateArray(), c => Assert.Equal(trainPerClass, c.GetInt32()));
        Assert.All(stats.GetProperty("test").GetProperty("class_counts").EnumerateArray(), c => Assert.Equal(testPerClass, c.GetInt32()));
        var trainChannels = stats.GetProperty("train").GetProperty("channels");
        Assert.Equal(channels, trainChannels.GetArrayLength());
        foreach (var ch in trainChannels.EnumerateArray())
        {
            // The raw and normalised statistics describe the same pixels: raw = 255 × normalised.
            Assert.Equal(ch.GetProperty("raw_mean").GetDouble(), 255 * ch.GetProperty("normalized_mean").GetDouble(), 3);
            Assert.Equal(255, ch.GetProperty("raw_max").GetInt32());
            Assert.InRange(ch.GetProperty("normalized_std").GetDouble(), 0.2, 0.4);
        }
        if (dataset == "fmnist") Assert.Equal(0.2860, trainChannels[0].GetProperty("normalized_mean").GetDouble(), 4); // the data README's value

        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains($"perfectly balanced, {trainPerClass:N0} images in every class", report);
        Assert.Contains("![sample images per class](samples.png)", report);
    }

    [Fact]
    public void Missing_data_is_a_message_and_a_non_zero_exit_code_without_a_run_folder()
    {
        string empty = Path.Combine(Root, "no-data");
        Directory.CreateDirectory(empty);
        var (code, _, error) = Run("kernel-study", "--data-dir", empty, "--out", Path.Combine(Root, "runs"), "--no-download");
        Assert.Equal(1, code);
        Assert.Contains("Dataset files are missing", error);
        Assert.Contains("train-images-idx3-ubyte.gz", error);
        Assert.Contains("NATIVECONV_DATA", error);
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.False(Directory.Exists(Path.Combine(Root, "runs")) && Directory.EnumerateFileSystemEntries(Path.Combine(Root, "runs")).Any());

        (code, _, error) = Run("eda", "--dataset", "cifar10", "--data-dir", empty, "--out", Root, "--no-download");
        Assert.Equal(1, code);
        Assert.Contains("cifar-10-binary.tar.gz", error);
    }

    [Theory]
    [InlineData("eda", "--dataset", "mnist")]
    [InlineData("fmnist", "--seeds", "0")]
    [InlineData("cifar", "--device", "tpu")]
    [InlineData("kernel-study", "--batch-size", "0")]
    [InlineData("filter-study", "--limit", "5")]
    [InlineData("all", "--patience", "-1")]
    [InlineData("fmnist", "--epochs", "many")]
    [InlineData("eda", "--dataset", "fmnist", "--per-class", "x")]
    [InlineData("kernel-study", "--limit", "lots")]
    public void Bad_option_values_are_parse_errors(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.NotEqual(0, code);
        Assert.Contains(args[^2], error + string.Join(" ", args)); // the message names the option (or the bad value)
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Resume_without_an_earlier_run_says_so()
    {
        var (code, _, error) = Run(Study("cifar", "--resume"));
        Assert.Equal(1, code);
        Assert.Contains("no earlier 'cifar' run", error);
    }

    [Theory]
    [InlineData("eda")]
    [InlineData("fmnist")]
    [InlineData("kernel-study")]
    [InlineData("cifar")]
    [InlineData("filter-study")]
    [InlineData("all")]
    public void Every_study_verb_has_help(string verb)
    {
        var (code, output, _) = Run(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage:", output);
        if (verb != "eda")
            foreach (var option in new[] { "--data-dir", "--seed", "--seeds", "--threads", "--epochs", "--batch-size", "--patience", "--limit", "--out", "--resume", "--device" })
                Assert.Contains(option, output);
    }

    [Fact]
    public void Resume_after_an_interruption_does_not_retrain_the_finished_model_and_matches_an_uninterrupted_run()
    {
        var settings = new StudySettings { DataDir = RealData.Locator.Root, Threads = 2, Epochs = 2, Limit = 800, Out = Path.Combine(Root, "a") };
        var data = FashionMnistData.Value;
        var quiet = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null), Interactive = InteractionSupport.No });

        // Uninterrupted reference.
        var reference = new StudyRunner(StudyDefinition.Fmnist, settings, TextWriter.Null, quiet) { Data = data }.Run();
        Assert.False(reference.Interrupted);

        // Interrupted: the MLP finishes, the CNN is cancelled in the middle of its second epoch.
        var interruptedSettings = settings with { Out = Path.Combine(Root, "b") };
        using var cancel = new CancellationTokenSource();
        var first = new StudyRunner(StudyDefinition.Fmnist, interruptedSettings, TextWriter.Null, quiet)
        {
            Data = data,
            TrainerCreated = (model, _, trainer) =>
            {
                if (model == "fmnist-cnn") trainer.StepCompleted += p => { if (p.Epoch == 2 && p.Step == 4) cancel.Cancel(); };
            },
        }.Run(cancel.Token);
        Assert.True(first.Interrupted);
        string mlpResult = Path.Combine(first.Folder, "models", "fmnist-mlp-seed42", StudyFolder.ResultFileName);
        Assert.True(File.Exists(mlpResult));
        Assert.False(File.Exists(Path.Combine(first.Folder, "models", "fmnist-cnn-seed42", StudyFolder.ResultFileName)));
        Assert.True(File.Exists(Path.Combine(first.Folder, "models", "fmnist-cnn-seed42", StudyFolder.CheckpointFileName)));
        Assert.False(File.Exists(Path.Combine(first.Folder, "results.json")));
        byte[] mlpBefore = File.ReadAllBytes(mlpResult);
        var mlpTime = File.GetLastWriteTimeUtc(mlpResult);

        // Resume through the command line (--resume with no value: the newest run under --out).
        var (code, output, error) = Run("fmnist", "--data-dir", RealData.Locator.Root, "--out", interruptedSettings.Out, "--threads", "2",
            "--epochs", "2", "--limit", "800", "--resume", "--no-download");
        Assert.True(code == 0, error + output);
        Assert.Contains("fmnist-mlp: already finished", output);
        Assert.Contains("Resumed from", output);
        Assert.Equal(mlpBefore, File.ReadAllBytes(mlpResult));
        Assert.Equal(mlpTime, File.GetLastWriteTimeUtc(mlpResult));

        var resumed = NativeConv.Experiments.Reports.ResultsJson.Read(Path.Combine(first.Folder, "results.json"));
        Assert.Equal(reference.Results!.Models.Count, resumed.Models.Count);
        for (int i = 0; i < resumed.Models.Count; i++)
        {
            var expected = reference.Results.Models[i];
            var actual = resumed.Models[i];
            Assert.Equal(expected.Name, actual.Name);
            Assert.Equal(expected.Test!.Accuracy, actual.Test!.Accuracy);
            Assert.Equal(expected.Test.Loss, actual.Test.Loss);
            Assert.Equal(expected.Training!.BestEpoch, actual.Training!.BestEpoch);
            Assert.Equal(expected.Training.History.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)),
                actual.Training.History.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)));
        }

        // A resume with other settings is refused with a message.
        (code, _, error) = Run("fmnist", "--data-dir", RealData.Locator.Root, "--out", interruptedSettings.Out, "--epochs", "3", "--limit", "800", "--resume", first.Folder, "--no-download");
        Assert.Equal(1, code);
        Assert.Contains("epochs 2 → 3", error);
    }

    [Fact]
    public void The_untimed_warm_up_step_leaves_every_model_s_numbers_unchanged()
    {
        // The warm-up trains a throwaway copy of each model for one step before its timed epochs: the real models' losses,
        // accuracies and histories must be bit for bit those of a run without it (the MLP and the CNN).
        var settings = new StudySettings { DataDir = RealData.Locator.Root, Threads = 2, Epochs = 1, Limit = 600, Out = Path.Combine(Root, "warm") };
        var quiet = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null), Interactive = InteractionSupport.No });
        var data = FashionMnistData.Value;
        var warm = new StudyRunner(StudyDefinition.Fmnist, settings, TextWriter.Null, quiet) { Data = data }.Run();
        var cold = new StudyRunner(StudyDefinition.Fmnist, settings with { Out = Path.Combine(Root, "cold") }, TextWriter.Null, quiet)
            { Data = data, WarmUp = false }.Run();
        Assert.Equal(2, warm.Results!.Models.Count);
        Assert.Equal(cold.Results!.Models.Count, warm.Results.Models.Count);
        for (int i = 0; i < warm.Results.Models.Count; i++)
        {
            var expected = cold.Results.Models[i];
            var actual = warm.Results.Models[i];
            Assert.Equal((expected.Name, expected.Test!.Accuracy, expected.Test.Loss), (actual.Name, actual.Test!.Accuracy, actual.Test.Loss));
            Assert.Equal(expected.Training!.History.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)),
                actual.Training!.History.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)));
        }
    }

    private static readonly Lazy<(NativeConv.Experiments.Data.Dataset, NativeConv.Experiments.Data.Dataset)> FashionMnistData =
        new(() => NativeConv.Experiments.Data.FashionMnist.Load(RealData.Locator));
}
