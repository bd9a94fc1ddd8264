using System.Globalization;
using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// The written conclusions of a study, computed from the measured numbers only: every sentence states the numbers it rests
/// on, and which way it goes (wins/loses, rises/falls, within/beyond noise) is decided here, never typed in advance.
/// </summary>
public static class Findings
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// The findings of a study from the per-model aggregates of the models that were run, found by NAME (a --models run may
    /// lack any of them, the baseline included). A comparison whose models were not all run is not computed: the findings
    /// then describe the models that were run and say which ones the comparison needs.
    /// </summary>
    public static IReadOnlyList<string> For(StudyDefinition study, IReadOnlyList<ModelAggregate> models)
    {
        if (models.Count == 0) return [];
        var missing = new List<string>();
        foreach (string name in study.Models)
            if (Find(models, name) is null) missing.Add(name);

        switch (study.Kind)
        {
            case StudyKind.BaselineVersusChallenger or StudyKind.KernelSize:
                if (Find(models, study.Models[0]) is { } first && Find(models, study.Models[1]) is { } second)
                    return study.Kind == StudyKind.BaselineVersusChallenger ? BaselineVersusChallenger(first, second) : KernelSize(first, second);
                return NotCompared(models, NotRun(study, models, missing, [$"the comparison of {study.Models[1]} with {study.Models[0]}"]));

            case StudyKind.SizeSweep:
                var family = new List<ModelAggregate>();
                foreach (var m in models)
                    if (m.Name != study.Baseline) family.Add(m);
                var baseline = Find(models, study.Baseline);
                var leftOut = new List<string>();
                if (family.Count < study.Models.Count - 1) leftOut.Add($"the full size sweep ({string.Join(", ", study.Models.Skip(1))})");
                if (baseline is null) leftOut.Add($"the comparison with the baseline {study.Baseline}");
                var sentence = NotRun(study, models, missing, leftOut);
                if (family.Count == 0) return NotCompared(models, sentence);
                var lines = new List<string>(SizeSweep(baseline, family));
                if (missing.Count > 0) lines.Add(sentence);
                return lines;

            default:
                return [];
        }
    }

    private static ModelAggregate? Find(IReadOnlyList<ModelAggregate> models, string name)
    {
        foreach (var m in models)
            if (m.Name == name) return m;
        return null;
    }

    /// <summary>"Not compared: this run covers only X (--models), without Y, so WHAT is left out; ..."</summary>
    private static string NotRun(StudyDefinition study, IReadOnlyList<ModelAggregate> models, IReadOnlyList<string> missing, IReadOnlyList<string> leftOut) =>
        $"Not compared: this run covers only {string.Join(", ", models.Select(m => m.Name))} (--models), without {string.Join(", ", missing)}, " +
        $"so {string.Join(" and ", leftOut)} {(leftOut.Count == 1 ? "is" : "are")} left out; run {study.Name} without --models for the full findings.";

    /// <summary>The findings of models that cannot be compared with each other: what each measured, its seed spread, and why no comparison.</summary>
    private static List<string> NotCompared(IReadOnlyList<ModelAggregate> models, string notRun)
    {
        var lines = new List<string>();
        foreach (var m in models)
        {
            lines.Add($"{m.Name} reaches {m.TestAccuracy.FormatPercent()} test accuracy with {Markdown.Count(m.Parameters)} parameters " +
                      $"(generalisation gap {Markdown.PercentagePoints(m.Gap.Mean)}, best epoch {m.BestEpoch.FormatNumber(m.BestEpoch.Count > 1 ? 1 : 0)}).");
            lines.Add(SeedSpread(m));
        }
        lines.Add(notRun);
        return lines;
    }

    /// <summary>
    /// The seed-to-seed spread of one model's test accuracy (what repeating a configuration with --seeds K measures), or
    /// with one seed the sentence that the noise is unknown.
    /// </summary>
    public static string SeedSpread(ModelAggregate model)
    {
        var x = model.TestAccuracy;
        if (x.Count < 2)
            return $"{model.Name} was trained with one seed, so its seed-to-seed noise is unknown: run with --seeds 3 (or more) to measure it.";
        // Two independent single-seed runs differ with a standard deviation of √2·std: two of those is the noise threshold.
        return $"Seed-to-seed noise of {model.Name}: its test accuracy has a standard deviation of {Markdown.Number(x.Std * 100, 2)} pp over {x.Count} seeds " +
               $"(standard error of the mean {Markdown.Number(x.StandardError * 100, 2)} pp); two single-seed runs of it differ by up to about " +
               $"{Markdown.Number(2 * Math.Sqrt(2) * x.Std * 100, 2)} pp (2√2 × std) from the noise alone.";
    }

    /// <summary>A baseline (first) against a challenger: accuracy difference with the parameter ratio, gap, convergence, noise.</summary>
    public static IReadOnlyList<string> BaselineVersusChallenger(ModelAggregate baseline, ModelAggregate challenger)
    {
        var lines = new List<string>
        {
            Comparison(challenger, baseline),
            GapComparison([baseline, challenger]),
            ConvergenceComparison(baseline, challenger),
            Noise(challenger.Name, challenger.TestAccuracy, baseline.Name, baseline.TestAccuracy),
        };
        return lines;
    }

    /// <summary>Two kernel sizes, everything else fixed: parameters, accuracy per parameter, convergence, noise.</summary>
    public static IReadOnlyList<string> KernelSize(ModelAggregate small, ModelAggregate large)
    {
        var lines = new List<string>();
        double extra = (double)large.Parameters / small.Parameters - 1;
        lines.Add($"{large.Name} has {Markdown.Count(large.Parameters)} parameters, {Signed(extra * 100, 1)} % relative to {small.Name}'s {Markdown.Count(small.Parameters)}.");
        lines.Add(Comparison(large, small));

        // Accuracy per parameter: the larger kernel breaks even only if its relative accuracy gain matches its relative size.
        double perSmall = small.TestAccuracy.Mean / small.Parameters * 100_000, perLarge = large.TestAccuracy.Mean / large.Parameters * 100_000;
        double relativeGain = large.TestAccuracy.Mean / small.TestAccuracy.Mean - 1;
        string winner = perSmall >= perLarge ? small.Name : large.Name;
        lines.Add($"Accuracy per parameter: {winner} wins ({Markdown.Number(perSmall * 100, 3)} vs {Markdown.Number(perLarge * 100, 3)} accuracy points per 100k parameters for {small.Name} and {large.Name}); " +
                  $"to break even {large.Name} would need a relative accuracy gain of {Markdown.Number(extra * 100, 1)} %, it measured {Signed(relativeGain * 100, 2)} %.");
        lines.Add(ConvergenceComparison(small, large));
        lines.Add(Noise(large.Name, large.TestAccuracy, small.Name, small.TestAccuracy));
        return lines;
    }

    /// <summary>
    /// A size sweep (any order; sorted by parameters here) and an optional baseline: is accuracy monotonic in size, the gain
    /// per doubling of parameters (diminishing?), does the gap grow, how the smallest model compares with the baseline.
    /// </summary>
    public static IReadOnlyList<string> SizeSweep(ModelAggregate? baseline, IReadOnlyList<ModelAggregate> family)
    {
        var lines = new List<string>();
        if (family.Count == 0) return lines;
        var sorted = family.OrderBy(m => m.Parameters).ToList();

        var best = sorted.MaxBy(m => m.TestAccuracy.Mean)!;
        lines.Add($"Best test accuracy: {best.Name} with {best.TestAccuracy.FormatPercent()} ({Markdown.Count(best.Parameters)} parameters).");

        if (sorted.Count == 1)
            lines.Add($"Only one size ({best.Name}) was measured, so this run says nothing about how accuracy, the gain per doubling of parameters or the gap change with size.");
        if (sorted.Count >= 2)
        {
            string chain = string.Join(" → ", sorted.Select(m => $"{m.Name} {Markdown.Percent(m.TestAccuracy.Mean)}"));
            var drops = new List<string>();
            for (int i = 1; i < sorted.Count; i++)
                if (!(sorted[i].TestAccuracy.Mean > sorted[i - 1].TestAccuracy.Mean))
                    drops.Add($"{sorted[i].Name} ({Markdown.Count(sorted[i].Parameters)} parameters) does not beat {sorted[i - 1].Name} ({Markdown.Count(sorted[i - 1].Parameters)})");
            lines.Add(drops.Count == 0
                ? $"Test accuracy rises monotonically with the number of parameters: {chain}."
                : $"Test accuracy is NOT monotonic in the number of parameters: {string.Join("; ", drops)} ({chain}).");

            var gains = GainsPerDoubling(sorted);
            string gainText = string.Join(", ", gains.Select(g => $"{g.From} → {g.To}: {Signed(g.PointsPerDoubling, 2)} pp per doubling"));
            bool diminishing = true;
            for (int i = 1; i < gains.Count; i++)
                if (!(gains[i].PointsPerDoubling < gains[i - 1].PointsPerDoubling)) diminishing = false;
            lines.Add(gains.Count < 2
                ? $"Gain per doubling of parameters: {gainText}."
                : diminishing
                    ? $"Diminishing returns: each step up in size buys less accuracy per doubling of parameters ({gainText})."
                    : $"Returns per doubling of parameters do not shrink steadily ({gainText}).");

            string gapChain = string.Join(" → ", sorted.Select(m => $"{m.Name} {Markdown.PercentagePoints(m.Gap.Mean)}"));
            bool growing = true, shrinking = true;
            for (int i = 1; i < sorted.Count; i++)
            {
                if (!(sorted[i].Gap.Mean > sorted[i - 1].Gap.Mean)) growing = false;
                if (!(sorted[i].Gap.Mean < sorted[i - 1].Gap.Mean)) shrinking = false;
            }
            lines.Add(growing
                ? $"The generalisation gap (train − validation accuracy) grows with size: {gapChain}."
                : shrinking
                    ? $"The generalisation gap (train − validation accuracy) shrinks with size: {gapChain}."
                    : $"The generalisation gap (train − validation accuracy) does not change monotonically with size: {gapChain}.");
        }

        if (baseline is not null)
        {
            lines.Add(Comparison(sorted[0], baseline));
            if (sorted.Count > 1) lines.Add(Comparison(best, baseline));
        }
        if (sorted.Count >= 2)
        {
            var runnerUp = sorted.Where(m => !ReferenceEquals(m, best)).MaxBy(m => m.TestAccuracy.Mean)!;
            lines.Add(Noise(best.Name, best.TestAccuracy, runnerUp.Name, runnerUp.TestAccuracy));
        }
        else if (baseline is not null)
        {
            lines.Add(Noise(best.Name, best.TestAccuracy, baseline.Name, baseline.TestAccuracy));
        }
        else
        {
            lines.Add(SeedSpread(best));
        }
        return lines;
    }

    /// <summary>A step of a size sweep: accuracy gained per doubling of parameters between two consecutive models.</summary>
    public readonly record struct DoublingGain(string From, string To, double Doublings, double PointsPerDoubling);

    /// <summary>For consecutive models (sorted by parameters): (test accuracy difference in pp) / log2(parameter ratio).</summary>
    public static IReadOnlyList<DoublingGain> GainsPerDoubling(IReadOnlyList<ModelAggregate> sortedBySize)
    {
        var gains = new List<DoublingGain>();
        for (int i = 1; i < sortedBySize.Count; i++)
        {
            var a = sortedBySize[i - 1];
            var b = sortedBySize[i];
            double doublings = Math.Log2((double)b.Parameters / a.Parameters);
            double points = (b.TestAccuracy.Mean - a.TestAccuracy.Mean) * 100;
            gains.Add(new DoublingGain(a.Name, b.Name, doublings, doublings > 0 ? points / doublings : double.NaN));
        }
        return gains;
    }

    /// <summary>"A beats B by X pp on test accuracy (a vs b) with R× the parameters (p vs q)" — or "falls short of".</summary>
    public static string Comparison(ModelAggregate candidate, ModelAggregate reference)
    {
        double difference = candidate.TestAccuracy.Mean - reference.TestAccuracy.Mean;
        string verb = difference > 0 ? "beats" : difference < 0 ? "falls short of" : "ties with";
        string by = difference == 0 ? "" : $" by {Markdown.Number(Math.Abs(difference) * 100, 2)} pp";
        return $"{candidate.Name} {verb} {reference.Name}{by} on test accuracy ({candidate.TestAccuracy.FormatPercent()} vs {reference.TestAccuracy.FormatPercent()}) " +
               $"with {Ratio(candidate.Parameters, reference.Parameters)} the parameters ({Markdown.Count(candidate.Parameters)} vs {Markdown.Count(reference.Parameters)}).";
    }

    /// <summary>"9.7×" or "0.085× (11.8× fewer)" for a parameter ratio.</summary>
    public static string Ratio(long numerator, long denominator)
    {
        double r = (double)numerator / denominator;
        if (r >= 1) return $"{FormatRatio(r)}×";
        return $"{FormatRatio(r)}× ({FormatRatio(1 / r)}× fewer)";
    }

    private static string FormatRatio(double r) => r >= 10 ? r.ToString("F1", Invariant) : r >= 0.1 ? r.ToString("F2", Invariant) : r.ToString("G2", Invariant);

    /// <summary>Which model overfits more: the gap (train − validation accuracy) of each.</summary>
    public static string GapComparison(IReadOnlyList<ModelAggregate> models)
    {
        string list = string.Join(", ", models.Select(m => $"{m.Name} {Markdown.PercentagePoints(m.Gap.Mean)}"));
        var largest = models.MaxBy(m => m.Gap.Mean)!;
        if (!(largest.Gap.Mean > 0))
            return $"Generalisation gap (train − validation accuracy of the kept epoch): {list}; no model fits its training set better than the held-out images yet (training accuracy is averaged over the epoch while the weights still change, so it lags).";
        return $"Generalisation gap (train − validation accuracy of the kept epoch): {list}; {largest.Name} has the largest gap, i.e. fits its training set most beyond what carries over to unseen images.";
    }

    /// <summary>Which model reaches its best validation loss sooner, in epochs and in seconds.</summary>
    public static string ConvergenceComparison(ModelAggregate a, ModelAggregate b)
    {
        string epochs = $"best epoch {Markdown.Number(a.BestEpoch.Mean, a.BestEpoch.Count > 1 ? 1 : 0)} vs {Markdown.Number(b.BestEpoch.Mean, b.BestEpoch.Count > 1 ? 1 : 0)}";
        string seconds = $"{Markdown.Duration(a.SecondsToBestEpoch.Mean)} vs {Markdown.Duration(b.SecondsToBestEpoch.Mean)} of training to reach it";
        if (a.BestEpoch.Mean == b.BestEpoch.Mean)
        {
            string faster = a.SecondsToBestEpoch.Mean <= b.SecondsToBestEpoch.Mean ? a.Name : b.Name;
            // Each time named with its model: "(0.7 s vs 0.2 s)" after "k5 gets there sooner" read as the wrong way round.
            string named = $"{a.Name} {Markdown.Duration(a.SecondsToBestEpoch.Mean)} vs {b.Name} {Markdown.Duration(b.SecondsToBestEpoch.Mean)} of training to reach it";
            return $"Convergence: {a.Name} and {b.Name} reach their lowest validation loss at the same epoch ({epochs}); {faster} gets there sooner in wall-clock time ({named}).";
        }
        var quicker = a.BestEpoch.Mean < b.BestEpoch.Mean ? a : b;
        var slower = ReferenceEquals(quicker, a) ? b : a;
        string clock = quicker.SecondsToBestEpoch.Mean <= slower.SecondsToBestEpoch.Mean ? "and in wall-clock time" : "but not in wall-clock time (its epochs are slower)";
        return $"Convergence: {quicker.Name} reaches its lowest validation loss in fewer epochs than {slower.Name} {clock} ({a.Name} vs {b.Name}: {epochs}; {seconds}).";
    }

    /// <summary>
    /// Whether the test-accuracy difference of two models exceeds the seed-to-seed noise: |Δ mean| against two standard
    /// errors of the difference, √(s₁²/n₁ + s₂²/n₂). With one seed there is no noise estimate, and the sentence says so.
    /// </summary>
    public static string Noise(string a, SeedStat x, string b, SeedStat y)
    {
        if (x.Count < 2 || y.Count < 2)
            return "Each model was trained with one seed, so seed-to-seed noise is unknown: run with --seeds 3 (or more) to tell whether the differences are larger than it.";
        double difference = x.Mean - y.Mean;
        double standardError = Math.Sqrt(x.Std * x.Std / x.Count + y.Std * y.Std / y.Count);
        string numbers = $"difference {Signed(difference * 100, 2)} pp, two standard errors {Markdown.Number(2 * standardError * 100, 2)} pp; std over seeds {Markdown.Number(x.Std * 100, 2)} pp ({a}, n = {x.Count}) and {Markdown.Number(y.Std * 100, 2)} pp ({b}, n = {y.Count})";
        return Math.Abs(difference) > 2 * standardError
            ? $"The test-accuracy difference between {a} and {b} exceeds the seed-to-seed noise ({numbers})."
            : $"The test-accuracy difference between {a} and {b} is within the seed-to-seed noise ({numbers}): it is not a meaningful difference.";
    }

    private static string Signed(double value, int decimals) =>
        double.IsFinite(value) ? value.ToString("+0." + new string('0', decimals) + ";-0." + new string('0', decimals), Invariant) : "—";
}
