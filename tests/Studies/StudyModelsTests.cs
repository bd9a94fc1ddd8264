using System.Text.Json;
using NativeConv.Experiments;
using NativeConv.Experiments.Studies;
using NativeConv.Tests.Data;

namespace NativeConv.Tests.Studies;

/// <summary>
/// --models on the study verbs, through the real command line (Program.Run in-process): name checking (exit 2 naming the bad
/// name and the study's models), a subset run on a small real CIFAR-10 subset, and --resume keeping the run's own models.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class StudyModelsTests() : NativeConv.Tests.Support.StudyRunsRoot("nativeconv-study-models-")
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args) => NativeConv.Tests.Support.Cli.Run(args);

    [Theory]
    [InlineData("fmnist", "cifar-big", "'cifar-big' is not part of the fmnist study", "fmnist-mlp, fmnist-cnn")]
    [InlineData("kernel-study", "fmnist-cnn,fmnist-mlp", "'fmnist-mlp' is not part of the kernel-study study", "fmnist-cnn, fmnist-cnn-k5")]
    [InlineData("cifar", "cifar-dense,cifar-huge", "unknown model 'cifar-huge'", "cifar-dense, cifar-big")]
    [InlineData("filter-study", "nope", "unknown model 'nope'", "cifar-dense, cifar-small, cifar-medium, cifar-big, cifar-extra-big")]
    [InlineData("filter-study", ",", "no model named", "cifar-dense, cifar-small, cifar-medium, cifar-big, cifar-extra-big")]
    public void A_name_outside_the_study_exits_with_2_naming_it_and_the_studys_models(string verb, string models, string problem, string studyModels)
    {
        var (code, output, error) = Run(Study(verb, "--models", models));
        Assert.True(code == 2, $"exit {code}: {error}{output}");
        Assert.Contains(problem, error);
        Assert.Contains($"The {verb} study's models: {studyModels}", error);
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.False(Directory.Exists(Root), "a rejected --models must not create a run folder");
    }

    [Fact]
    public void Every_bad_name_is_named_and_the_check_comes_before_the_data()
    {
        // A missing dataset folder: the --models check must fail first, with 2, not the data with 1.
        var (code, _, error) = Run("filter-study", "--data-dir", Path.Combine(Root, "no-data"), "--no-download", "--models", "cifar-small,foo", "--models", "fmnist-cnn");
        Assert.Equal(2, code);
        Assert.Contains("unknown model 'foo'", error);
        Assert.Contains("'fmnist-cnn' is not part of the filter-study study", error);
        Assert.DoesNotContain("Dataset files are missing", error);
    }

    [Fact]
    public void SelectModels_keeps_the_study_order_drops_repeats_and_matches_case_insensitively()
    {
        Assert.Equal(["cifar-small", "cifar-big"], StudyDefinition.FilterStudy.SelectModels(["cifar-big", "CIFAR-Small, cifar-big"]));
        Assert.Equal(StudyDefinition.Fmnist.Models, StudyDefinition.Fmnist.SelectModels(["fmnist-cnn,fmnist-mlp"]));
        Assert.True(StudyDefinition.Fmnist.IsWholeStudy(StudyDefinition.Fmnist.SelectModels(["fmnist-cnn", "fmnist-mlp"])));
        Assert.False(StudyDefinition.Fmnist.IsWholeStudy(["fmnist-cnn"]));
        Assert.Throws<StudyModelsException>(() => StudyDefinition.KernelStudy.SelectModels([""]));
    }

    [Theory]
    [InlineData("fmnist", "fmnist-mlp, fmnist-cnn")]
    [InlineData("kernel-study", "fmnist-cnn, fmnist-cnn-k5")]
    [InlineData("cifar", "cifar-dense, cifar-big")]
    [InlineData("filter-study", "cifar-dense, cifar-small, cifar-medium, cifar-big, cifar-extra-big")]
    public void Help_shows_models_with_the_studys_own_models(string verb, string studyModels)
    {
        var (code, output, _) = Run(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains("--models <NAME[,NAME...]>", output);
        Assert.Contains(studyModels, output.ReplaceLineEndings(" "));
    }

    [Fact]
    public void All_has_no_models_option()
    {
        var (code, output, _) = Run("all", "--help");
        Assert.Equal(0, code);
        Assert.DoesNotContain("--models", output);
    }

    [Fact]
    public void A_subset_without_the_baseline_trains_only_it_and_says_so_and_a_resume_keeps_it()
    {
        // Repeated --models, given out of order: the run trains them in the study's order.
        var (code, output, error) = Run(Study("filter-study", "--models", "cifar-medium", "--models", "cifar-small", "--limit", "100", "--epochs", "1"));
        Assert.True(code == 0, error + output);
        var folders = Directory.GetDirectories(Root, "filter-study-*");
        string folder = Assert.Single(folders);
        Assert.Contains("cifar-small: ", output);
        Assert.DoesNotContain("cifar-dense:", output);

        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json"))))
        {
            var root = json.RootElement;
            Assert.Equal(["cifar-small", "cifar-medium"], root.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
            Assert.Equal(["cifar-small", "cifar-medium"], root.GetProperty("extra").GetProperty("aggregates").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
            var settings = root.GetProperty("settings");
            Assert.Equal("cifar-small, cifar-medium", settings.GetProperty("models").GetString());
            Assert.Equal("cifar-dense, cifar-small, cifar-medium, cifar-big, cifar-extra-big", settings.GetProperty("study_models").GetString());
        }
        using (var study = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, StudyFolder.SettingsFileName))))
            Assert.Equal("cifar-small,cifar-medium", study.RootElement.GetProperty(StudyFolder.ModelsKey).GetString());

        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("**This report covers only cifar-small, cifar-medium** (chosen with --models)", report);
        Assert.Contains("cifar-dense, cifar-big, cifar-extra-big were not run", report);
        Assert.Contains("| cifar-small | 14,450 |", report);
        Assert.DoesNotContain("| cifar-dense |", report);
        string findings = report[report.IndexOf("## Findings", StringComparison.Ordinal)..report.IndexOf("## Plots", StringComparison.Ordinal)];
        Assert.Contains("Best test accuracy:", findings);
        Assert.Contains("the comparison with the baseline cifar-dense", findings);
        Assert.DoesNotContain("cifar-dense by", findings); // no comparison computed against a model that did not run
        Assert.DoesNotContain("NaN", report);
        Assert.True(File.Exists(Path.Combine(folder, "curves-cifar-medium.svg")));
        Assert.False(File.Exists(Path.Combine(folder, "curves-cifar-dense.svg")));

        // A resume with other --models is refused, naming both; the check comes before any data is read.
        (code, output, error) = Run(Study("filter-study", "--models", "cifar-small", "--limit", "100", "--epochs", "1", "--resume", folder));
        Assert.True(code == 1, error + output);
        Assert.Contains("was started with --models cifar-small,cifar-medium, not --models cifar-small", error);

        // Without --models a resume continues the run's own models (both finished: nothing is retrained).
        (code, output, error) = Run(Study("filter-study", "--limit", "100", "--epochs", "1", "--resume"));
        Assert.True(code == 0, error + output);
        Assert.Contains("cifar-small: already finished", output);
        Assert.Contains("cifar-medium: already finished", output);
        Assert.DoesNotContain("cifar-dense:", output); // no training line for a model outside the run
        Assert.Single(Directory.GetDirectories(Root, "filter-study-*"));
    }
}
