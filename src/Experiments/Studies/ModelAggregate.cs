using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>Mean, sample standard deviation and count of one number over a model's seeds (Std is 0 for one seed).</summary>
public readonly record struct SeedStat(double Mean, double Std, int Count)
{
    public static SeedStat Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return new SeedStat(double.NaN, double.NaN, 0);
        double sum = 0;
        foreach (double v in values) sum += v;
        double mean = sum / values.Count;
        double squares = 0;
        foreach (double v in values) squares += (v - mean) * (v - mean);
        double std = values.Count > 1 ? Math.Sqrt(squares / (values.Count - 1)) : 0;
        return new SeedStat(mean, std, values.Count);
    }

    /// <summary>Standard error of the mean (std / √n); NaN with fewer than two values.</summary>
    public double StandardError => Count > 1 ? Std / Math.Sqrt(Count) : double.NaN;

    /// <summary>"91.23 %" or "91.23 ± 0.15 %" for fractions shown as percentages.</summary>
    public string FormatPercent() => Count > 1
        ? $"{Markdown.Number(Mean * 100, 2)} ± {Markdown.Number(Std * 100, 2)} %"
        : Markdown.Percent(Mean);

    /// <summary>"0.2345" or "0.2345 ± 0.0012".</summary>
    public string FormatNumber(int decimals = 4) => Count > 1
        ? $"{Markdown.Number(Mean, decimals)} ± {Markdown.Number(Std, decimals)}"
        : Markdown.Number(Mean, decimals);
}

/// <summary>
/// One model of a study summarised over its seeds: the numbers the findings are computed from. Accuracies are fractions;
/// the gap is final train accuracy − validation accuracy of the kept epoch.
/// </summary>
public sealed record ModelAggregate(
    string Name,
    long Parameters,
    SeedStat TestAccuracy,
    SeedStat TestLoss,
    SeedStat PeakValidationAccuracy,
    SeedStat BestValidationLoss,
    SeedStat TrainAccuracy,
    SeedStat ValidationAccuracy,
    SeedStat Gap,
    SeedStat Epochs,
    SeedStat BestEpoch,
    SeedStat TrainSeconds,
    SeedStat SecondsToBestEpoch,
    SeedStat SecondsPerEpoch)
{
    /// <summary>Aggregates the runs of one model (one <see cref="ModelResult"/> per seed, all trained and tested).</summary>
    public static ModelAggregate From(string name, IReadOnlyList<ModelResult> runs)
    {
        if (runs.Count == 0) throw new ArgumentException($"Model '{name}' has no finished runs to summarise.");
        var test = new List<double>(); var testLoss = new List<double>(); var peak = new List<double>(); var bestLoss = new List<double>();
        var train = new List<double>(); var val = new List<double>(); var gap = new List<double>(); var epochs = new List<double>();
        var best = new List<double>(); var seconds = new List<double>(); var toBest = new List<double>(); var perEpoch = new List<double>();
        foreach (var r in runs)
        {
            var t = r.Training ?? throw new ArgumentException($"Model '{name}': a run has no training history.");
            var final = t.FinalEpoch ?? throw new ArgumentException($"Model '{name}': a run has no finished epoch.");
            test.Add(r.Test?.Accuracy ?? double.NaN);
            testLoss.Add(r.Test?.Loss ?? double.NaN);
            double peakValue = 0, elapsed = 0, elapsedToBest = 0;
            foreach (var e in t.History)
            {
                peakValue = Math.Max(peakValue, e.ValidationAccuracy);
                elapsed += e.TrainSeconds + e.ValidationSeconds;
                if (e.Epoch <= t.BestEpoch) elapsedToBest = elapsed;
            }
            peak.Add(peakValue);
            bestLoss.Add(t.BestValidationLoss);
            train.Add(final.TrainAccuracy);
            val.Add(final.ValidationAccuracy);
            gap.Add(final.TrainAccuracy - final.ValidationAccuracy);
            epochs.Add(t.History.Count);
            best.Add(t.BestEpoch);
            seconds.Add(t.TotalSeconds);
            toBest.Add(elapsedToBest);
            perEpoch.Add(t.History.Count > 0 ? elapsed / t.History.Count : double.NaN);
        }
        return new ModelAggregate(name, runs[0].Parameters, SeedStat.Of(test), SeedStat.Of(testLoss), SeedStat.Of(peak),
            SeedStat.Of(bestLoss), SeedStat.Of(train), SeedStat.Of(val), SeedStat.Of(gap), SeedStat.Of(epochs), SeedStat.Of(best),
            SeedStat.Of(seconds), SeedStat.Of(toBest), SeedStat.Of(perEpoch));
    }

    /// <summary>A hand-made aggregate (findings tests): one "seed" per value given.</summary>
    public static ModelAggregate Of(string name, long parameters, double testAccuracy, double gap = double.NaN, double bestEpoch = double.NaN,
        double secondsToBest = double.NaN, double peakValidationAccuracy = double.NaN) => new(
        name, parameters, new SeedStat(testAccuracy, 0, 1), new SeedStat(double.NaN, 0, 1), new SeedStat(peakValidationAccuracy, 0, 1),
        new SeedStat(double.NaN, 0, 1), new SeedStat(double.NaN, 0, 1), new SeedStat(double.NaN, 0, 1), new SeedStat(gap, 0, 1),
        new SeedStat(double.NaN, 0, 1), new SeedStat(bestEpoch, 0, 1), new SeedStat(double.NaN, 0, 1), new SeedStat(secondsToBest, 0, 1),
        new SeedStat(double.NaN, 0, 1));
}
