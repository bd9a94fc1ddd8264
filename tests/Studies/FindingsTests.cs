using NativeConv.Experiments.Studies;

namespace NativeConv.Tests.Studies;

/// <summary>The findings text is computed from the numbers: each direction (wins/loses, monotonic or not, noise) flips with them.</summary>
public class FindingsTests
{
    private static ModelAggregate M(string name, long parameters, double accuracy, double gap = 0.01, double bestEpoch = 5, double secondsToBest = 50) =>
        ModelAggregate.Of(name, parameters, accuracy, gap, bestEpoch, secondsToBest);

    private static readonly long[] SweepParameters = [14_450, 44_762, 157_226, 589_514];

    private static List<ModelAggregate> Sweep(double[] accuracies, double[] gaps) =>
        Enumerable.Range(0, 4).Select(i => M(new[] { "small", "medium", "big", "extra" }[i], SweepParameters[i], accuracies[i], gaps[i])).ToList();

    [Fact]
    public void SeedStatistics_are_mean_and_sample_std()
    {
        var s = SeedStat.Of([1.0, 2.0, 3.0]);
        Assert.Equal(2.0, s.Mean, 12);
        Assert.Equal(1.0, s.Std, 12);
        Assert.Equal(3, s.Count);
        Assert.Equal(0, SeedStat.Of([0.5]).Std);
        Assert.Equal("91.00 ± 1.00 %", new SeedStat(0.91, 0.01, 3).FormatPercent());
        Assert.Equal("91.00 %", new SeedStat(0.91, 0, 1).FormatPercent());
    }

    [Fact]
    public void Convergence_names_each_time_with_its_model_and_the_faster_one()
    {
        string sameEpoch = Findings.ConvergenceComparison(M("fmnist-cnn", 1, 0.9, bestEpoch: 3, secondsToBest: 0.7),
            M("fmnist-cnn-k5", 1, 0.9, bestEpoch: 3, secondsToBest: 0.2));
        Assert.Contains("fmnist-cnn-k5 gets there sooner", sameEpoch);
        Assert.Contains("(fmnist-cnn 0.7 s vs fmnist-cnn-k5 0.2 s of training", sameEpoch);
        string fewerEpochs = Findings.ConvergenceComparison(M("a", 1, 0.9, bestEpoch: 2, secondsToBest: 30),
            M("b", 1, 0.9, bestEpoch: 4, secondsToBest: 20));
        Assert.Contains("a reaches its lowest validation loss in fewer epochs than b but not in wall-clock time", fewerEpochs);
    }

    [Fact]
    public void A_monotonic_sweep_with_shrinking_gains_and_a_growing_gap()
    {
        var lines = Findings.SizeSweep(M("dense", 1_707_274, 0.399, 0.2), Sweep([0.609, 0.751, 0.794, 0.805], [0.01, 0.03, 0.06, 0.10]));
        string text = string.Join("\n", lines);
        Assert.Contains("Best test accuracy: extra with 80.50 %", text);
        Assert.Contains("rises monotonically", text);
        Assert.DoesNotContain("NOT monotonic", text);
        Assert.Contains("Diminishing returns", text);
        Assert.Contains("grows with size", text);
        Assert.Contains("small beats dense by 21.00 pp", text);
        Assert.Contains("0.0085× (118.2× fewer)", text);

        var gains = Findings.GainsPerDoubling(Sweep([0.609, 0.751, 0.794, 0.805], [0, 0, 0, 0]));
        Assert.Equal(3, gains.Count);
        Assert.Equal(14.2 / Math.Log2(44_762.0 / 14_450), gains[0].PointsPerDoubling, 9);
        Assert.True(gains[0].PointsPerDoubling > gains[1].PointsPerDoubling && gains[1].PointsPerDoubling > gains[2].PointsPerDoubling);
    }

    [Fact]
    public void A_non_monotonic_sweep_names_the_model_that_drops()
    {
        string text = string.Join("\n", Findings.SizeSweep(null, Sweep([0.60, 0.75, 0.74, 0.80], [0.05, 0.02, 0.08, 0.04])));
        Assert.Contains("NOT monotonic", text);
        Assert.Contains("big (157,226 parameters) does not beat medium (44,762)", text);
        Assert.Contains("do not shrink steadily", text);
        Assert.Contains("does not change monotonically with size", text);
        Assert.DoesNotContain("dense", text);
    }

    [Fact]
    public void A_shrinking_gap_is_reported_as_such()
    {
        string text = string.Join("\n", Findings.SizeSweep(null, Sweep([0.60, 0.65, 0.75, 0.90], [0.10, 0.08, 0.05, 0.01])));
        Assert.Contains("shrinks with size", text);
        Assert.Contains("do not shrink steadily", text); // 3.1, 5.5, 7.9 pp per doubling: growing returns
        Assert.DoesNotContain("Diminishing", text);
    }

    [Fact]
    public void Kernel_study_accuracy_per_parameter_and_convergence()
    {
        var k3 = M("fmnist-cnn", 206_922, 0.910, bestEpoch: 8, secondsToBest: 300);
        var k5 = M("fmnist-cnn-k5", 215_370, 0.912, bestEpoch: 6, secondsToBest: 280);
        string text = string.Join("\n", Findings.KernelSize(k3, k5));
        Assert.Contains("+4.1 % relative to fmnist-cnn", text);
        Assert.Contains("fmnist-cnn-k5 beats fmnist-cnn by 0.20 pp", text);
        Assert.Contains("Accuracy per parameter: fmnist-cnn wins", text);
        Assert.Contains("it measured +0.22 %", text);
        Assert.Contains("fmnist-cnn-k5 reaches its lowest validation loss in fewer epochs than fmnist-cnn and in wall-clock time", text);
        Assert.Contains("one seed", text);

        // A large gain flips the per-parameter winner; slower epochs flip the wall-clock clause.
        var k5Better = M("fmnist-cnn-k5", 215_370, 0.99, bestEpoch: 6, secondsToBest: 400);
        text = string.Join("\n", Findings.KernelSize(M("fmnist-cnn", 206_922, 0.90, bestEpoch: 8, secondsToBest: 300), k5Better));
        Assert.Contains("Accuracy per parameter: fmnist-cnn-k5 wins", text);
        Assert.Contains("but not in wall-clock time", text);
    }

    [Fact]
    public void Noise_compares_the_difference_with_two_standard_errors()
    {
        Assert.Contains("within the seed-to-seed noise", Findings.Noise("a", new SeedStat(0.912, 0.002, 3), "b", new SeedStat(0.910, 0.002, 3)));
        Assert.Contains("exceeds the seed-to-seed noise", Findings.Noise("a", new SeedStat(0.912, 0.0005, 3), "b", new SeedStat(0.910, 0.0005, 3)));
        Assert.Contains("--seeds 3", Findings.Noise("a", new SeedStat(0.912, 0, 1), "b", new SeedStat(0.910, 0, 1)));
    }

    [Fact]
    public void Baseline_versus_challenger_says_who_wins_and_the_parameter_ratio()
    {
        string text = string.Join("\n", Findings.BaselineVersusChallenger(M("mlp", 109_386, 0.88, gap: 0.04), M("cnn", 206_922, 0.915, gap: 0.06)));
        Assert.Contains("cnn beats mlp by 3.50 pp on test accuracy (91.50 % vs 88.00 %) with 1.89× the parameters", text);
        Assert.Contains("cnn has the largest gap", text);
        text = string.Join("\n", Findings.BaselineVersusChallenger(M("mlp", 109_386, 0.90), M("cnn", 206_922, 0.85)));
        Assert.Contains("cnn falls short of mlp by 5.00 pp", text);
        Assert.Contains("Convergence: mlp and cnn reach their lowest validation loss at the same epoch", text);
    }
}
