using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;

namespace NativeConv.Tests.Studies;

/// <summary>
/// Findings and report.md of a --models run: models are found by name (never "the first one is the baseline"), a comparison
/// whose models were not run is replaced by a sentence saying which ones it needs, and nothing is computed from absent models.
/// </summary>
public class SubsetFindingsTests
{
    private static ModelAggregate M(string name, long parameters, double accuracy, double gap = 0.01, double bestEpoch = 5, double secondsToBest = 50) =>
        ModelAggregate.Of(name, parameters, accuracy, gap, bestEpoch, secondsToBest);

    private static ModelAggregate Seeds(ModelAggregate m, double std, int count) => m with { TestAccuracy = new SeedStat(m.TestAccuracy.Mean, std, count) };

    private static readonly ModelAggregate Dense = M("cifar-dense", 1_707_274, 0.40, 0.20);
    private static readonly ModelAggregate Small = M("cifar-small", 14_450, 0.61, 0.01);
    private static readonly ModelAggregate Big = M("cifar-big", 157_226, 0.79, 0.06);

    private static string Text(IEnumerable<string> lines) => string.Join("\n", lines);

    [Fact]
    public void A_size_sweep_without_the_baseline_sweeps_what_ran_and_says_the_baseline_comparison_is_left_out()
    {
        var lines = Findings.For(StudyDefinition.FilterStudy, [Small, Big]);
        string text = Text(lines);
        // Before: the first model (cifar-small) was taken as the dense baseline and "compared" with itself.
        Assert.DoesNotContain("cifar-small beats cifar-small", text);
        Assert.DoesNotContain("ties with", text);
        Assert.Contains("Test accuracy rises monotonically with the number of parameters: cifar-small 61.00 % → cifar-big 79.00 %", text);
        Assert.Contains("Not compared: this run covers only cifar-small, cifar-big (--models), without cifar-dense, cifar-medium, cifar-extra-big", text);
        Assert.Contains("the full size sweep (cifar-small, cifar-medium, cifar-big, cifar-extra-big) and the comparison with the baseline cifar-dense are left out", text);
        Assert.DoesNotContain("NaN", text);
    }

    [Fact]
    public void The_whole_sweep_is_unchanged_and_has_no_not_compared_sentence()
    {
        var medium = M("cifar-medium", 44_762, 0.75, 0.03);
        var extra = M("cifar-extra-big", 589_514, 0.805, 0.10);
        var all = Findings.For(StudyDefinition.FilterStudy, [Dense, Small, medium, Big, extra]);
        Assert.Equal(Findings.SizeSweep(Dense, [Small, medium, Big, extra]), all);
        Assert.DoesNotContain("Not compared", Text(all));
        Assert.Contains("cifar-small beats cifar-dense by 21.00 pp", Text(all));
    }

    [Fact]
    public void One_size_with_several_seeds_reports_its_seed_spread_not_a_sweep()
    {
        // The use case of --models: repeat one configuration with more seeds.
        string text = Text(Findings.For(StudyDefinition.FilterStudy, [Seeds(Small, 0.004, 3)]));
        Assert.Contains("Best test accuracy: cifar-small with 61.00 ± 0.40 %", text);
        Assert.Contains("Only one size (cifar-small) was measured", text);
        Assert.Contains("Seed-to-seed noise of cifar-small: its test accuracy has a standard deviation of 0.40 pp over 3 seeds", text);
        Assert.Contains("1.13 pp (2√2 × std)", text);
        Assert.DoesNotContain("trained with one seed", text);
        Assert.DoesNotContain("rises monotonically", text);
        Assert.Contains("the comparison with the baseline cifar-dense", text);
    }

    [Fact]
    public void One_size_with_the_baseline_compares_with_the_baseline_and_its_noise()
    {
        string text = Text(Findings.For(StudyDefinition.FilterStudy, [Seeds(Dense, 0.01, 3), Seeds(Small, 0.004, 3)]));
        Assert.Contains("cifar-small beats cifar-dense by 21.00 pp", text);
        Assert.Contains("between cifar-small and cifar-dense exceeds the seed-to-seed noise", text);
        Assert.Contains("the full size sweep", text);
        Assert.DoesNotContain("comparison with the baseline", text);
    }

    [Fact]
    public void Only_the_baseline_of_a_sweep_describes_it_alone()
    {
        string text = Text(Findings.For(StudyDefinition.FilterStudy, [Dense]));
        Assert.Contains("cifar-dense reaches 40.00 % test accuracy with 1,707,274 parameters (generalisation gap +20.00 pp, best epoch 5)", text);
        Assert.Contains("cifar-dense was trained with one seed", text);
        Assert.Contains("without cifar-small, cifar-medium, cifar-big, cifar-extra-big", text);
        Assert.DoesNotContain("Best test accuracy", text);
    }

    [Theory]
    [InlineData("fmnist", "fmnist-cnn", "fmnist-mlp", "the comparison of fmnist-cnn with fmnist-mlp is left out")]
    [InlineData("fmnist", "fmnist-mlp", "fmnist-cnn", "the comparison of fmnist-cnn with fmnist-mlp is left out")]
    [InlineData("kernel-study", "fmnist-cnn-k5", "fmnist-cnn", "the comparison of fmnist-cnn-k5 with fmnist-cnn is left out")]
    [InlineData("cifar", "cifar-big", "cifar-dense", "the comparison of cifar-big with cifar-dense is left out")]
    public void A_two_model_study_with_one_model_compares_nothing_and_says_which_model_is_missing(string verb, string ran, string missing, string leftOut)
    {
        var study = StudyDefinition.All.Single(s => s.Name == verb);
        string text = Text(Findings.For(study, [Seeds(M(ran, 206_922, 0.91), 0.002, 3)]));
        Assert.Contains($"{ran} reaches 91.00 ± 0.20 % test accuracy with 206,922 parameters", text);
        Assert.Contains($"Seed-to-seed noise of {ran}", text);
        Assert.Contains($"without {missing}, so {leftOut}; run {verb} without --models", text);
        Assert.DoesNotContain("beats", text);
        Assert.DoesNotContain("Accuracy per parameter", text);
        Assert.DoesNotContain("Convergence", text);
    }

    [Fact]
    public void Two_model_studies_find_their_models_by_name_not_position()
    {
        var k3 = M("fmnist-cnn", 206_922, 0.910, bestEpoch: 8, secondsToBest: 300);
        var k5 = M("fmnist-cnn-k5", 215_370, 0.912, bestEpoch: 6, secondsToBest: 280);
        Assert.Equal(Findings.KernelSize(k3, k5), Findings.For(StudyDefinition.KernelStudy, [k5, k3]));
        var mlp = M("fmnist-mlp", 109_386, 0.88);
        var cnn = M("fmnist-cnn", 206_922, 0.915);
        Assert.Equal(Findings.BaselineVersusChallenger(mlp, cnn), Findings.For(StudyDefinition.Fmnist, [mlp, cnn]));
        Assert.Empty(Findings.For(StudyDefinition.Fmnist, []));
    }

    [Fact]
    public void The_report_of_a_subset_without_the_baseline_says_it_covers_only_those_models()
    {
        string folder = Path.Combine(Path.GetTempPath(), "nativeconv-subset-report-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var aggregates = new[] { Small, Big };
            var findings = Findings.For(StudyDefinition.FilterStudy, aggregates);
            var results = StudyResults.Begin("filter-study");
            results.Settings["models"] = "cifar-small, cifar-big";
            string path = Path.Combine(folder, "report.md");
            StudyReport.Write(path, StudyDefinition.FilterStudy, results, aggregates, findings,
                new StandardPlots(new Dictionary<string, string>(), "validation-accuracy.svg", "accuracy-vs-parameters.svg", "generalisation-gap.svg"),
                "validation-loss.svg", ["a", "b"]);
            string report = File.ReadAllText(path);
            Assert.Contains("**This report covers only cifar-small, cifar-big** (chosen with --models), not the whole study (cifar-dense, cifar-small, cifar-medium, cifar-big, cifar-extra-big): " +
                            "cifar-dense, cifar-medium, cifar-extra-big were not run, so findings that need them are left out.", report);
            Assert.Contains("| cifar-big | 157,226 |", report);
            Assert.DoesNotContain("| cifar-dense |", report);
            foreach (var line in findings) Assert.Contains("- " + line, report);

            // The whole study: no such sentence.
            StudyReport.Write(path, StudyDefinition.Cifar, results, [M("cifar-dense", 1_707_274, 0.4), Big], [],
                new StandardPlots(new Dictionary<string, string>(), "v.svg", "a.svg", "g.svg"), "l.svg", ["a"]);
            Assert.DoesNotContain("This report covers only", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
