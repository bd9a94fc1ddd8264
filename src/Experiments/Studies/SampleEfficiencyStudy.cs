using System.Globalization;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Studies;

/// <summary>The training subset a sample-efficiency unit used (results.json): its size and the seed of the nested order.</summary>
public sealed record SampleSizeRecord(int TrainImages, int SubsetSeed);

/// <summary>One point of a model's sample-efficiency curve: training images, test accuracy over seeds.</summary>
public sealed record SampleSizePoint(string Unit, int TrainImages, SeedInterval TestAccuracy);

/// <summary>One model's curve (results.json "sample_efficiency").</summary>
public sealed record SampleSizeCurve(string Model, IReadOnlyList<SampleSizePoint> Points);

/// <summary>
/// `sample-efficiency`: test accuracy against the number of training images (1k, 2k, 5k, 10k, 30k, all), the dense model
/// against the CNN. The subsets are stratified, seeded by the unit's seed, and nested (every smaller one inside every larger
/// one): prefixes of <see cref="ImageTransforms.NestedStratifiedOrder"/> of the training split. The validation set (early
/// stopping) and the test set are the same for every size.
/// </summary>
public static class SampleEfficiencyStudy
{
    public const string StudyName = "sample-efficiency";
    public const string ExtraKey = "sample_size";
    public const string ResultsKey = "sample_efficiency";
    public const string AllVariant = "all";
    public static IReadOnlyList<int> Sizes { get; } = [1000, 2000, 5000, 10_000, 30_000];

    /// <summary>
    /// The study on <paramref name="dataset"/>; with --limit N, only the sizes below the N − 10 % training images left after the
    /// validation split (the larger ones would all be "all").
    /// </summary>
    public static StudyDefinition Define(string dataset, int? limit = null)
    {
        int full = dataset == DatasetCatalog.FashionMnistName ? 60_000 : 50_000;
        int available = Math.Min(limit ?? full, full);
        int fit = available - (int)Math.Round(available * 0.1, MidpointRounding.AwayFromZero);
        var models = new List<string>();
        foreach (var m in ShiftStudy.ModelsFor(dataset))
        {
            foreach (int size in Sizes)
                if (size < fit) models.Add($"{m}+n{size.ToString(CultureInfo.InvariantCulture)}");
            models.Add($"{m}+{AllVariant}");
        }
        string data = dataset == DatasetCatalog.FashionMnistName ? "Fashion-MNIST" : "CIFAR-10";
        return new StudyDefinition(ShiftStudy.NameFor(StudyName, dataset), $"{data}: test accuracy against training-set size (sample efficiency)", dataset, StudyKind.Extended, models,
            "How many training images does the dense model need to reach the CNN's accuracy at 1k and at 5k images, if it ever does?")
        { Extension = new SampleEfficiencyExtension() };
    }

    /// <summary>The requested size of a variant ("n1000" → 1000; "all" → null).</summary>
    public static int? SizeOf(string variant) =>
        variant.StartsWith('n') && int.TryParse(variant.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;

    /// <summary>
    /// The number of training images (interpolated linearly in log size between the measured sizes) at which <paramref name="curve"/>
    /// first reaches <paramref name="target"/>; null when it never does. A curve already at the target at its first point returns that size.
    /// </summary>
    public static double? SizeToReach(IReadOnlyList<(double Size, double Accuracy)> curve, double target)
    {
        ArgumentNullException.ThrowIfNull(curve);
        for (int i = 0; i < curve.Count; i++)
        {
            if (curve[i].Accuracy < target) continue;
            if (i == 0) return curve[0].Size;
            var (n0, a0) = curve[i - 1];
            var (n1, a1) = curve[i];
            double t = (target - a0) / (a1 - a0);
            return Math.Pow(10, Math.Log10(n0) + t * (Math.Log10(n1) - Math.Log10(n0)));
        }
        return null;
    }

    private sealed class SampleEfficiencyExtension : StudyExtension
    {
        public override StudySplits SplitsFor(StudyUnit unit, StudySplits splits)
        {
            // "all" is the whole training split, the largest of the nested subsets.
            int size = SizeOf(unit.Variant) ?? splits.Train.Count;
            return splits with { Train = ImageTransforms.NestedSubset(splits.Train, size, unit.Seed) };
        }

        public override void AfterTraining(StudyUnit unit, Trainer trainer, StudySplits splits, ModelResult result) =>
            result.Extra[ExtraKey] = new SampleSizeRecord(splits.Train.Count, unit.Seed);

        public override StudySections Report(string folder, StudyDefinition study, StudyResults results, IReadOnlyList<ModelAggregate> aggregates)
        {
            var units = InductiveBias.ByUnit(results, ExtraKey, r => ReadExtra<SampleSizeRecord>(r, ExtraKey));
            var curves = new List<SampleSizeCurve>();
            foreach (string model in study.Models.Select(StudyDefinition.ZooModel).Distinct())
            {
                var points = new List<SampleSizePoint>();
                foreach (var (unit, runs) in units.Where(u => StudyDefinition.ZooModel(u.Unit) == model))
                {
                    var accuracies = results.Models.Where(r => StudyExtension.UnitOf(r) == unit && r.Test is not null).Select(r => r.Test!.Accuracy).ToList();
                    points.Add(new SampleSizePoint(unit, runs[0].Value.TrainImages, SeedInterval.Of(accuracies)));
                }
                if (points.Count > 0) curves.Add(new SampleSizeCurve(model, [.. points.OrderBy(p => p.TrainImages)]));
            }
            results.Extra[ResultsKey] = curves;

            var findings = new List<string>();
            foreach (var c in curves)
                findings.Add($"{c.Model}: " + string.Join(", ", c.Points.Select(p => $"{Markdown.Percent(p.TestAccuracy.Mean)} with {Markdown.Count(p.TrainImages)}")) + " training images (test accuracy, mean over seeds).");
            var models = ShiftStudy.ModelsFor(study.Dataset);
            var dense = curves.FirstOrDefault(c => c.Model == models[0]);
            var cnn = curves.FirstOrDefault(c => c.Model == models[1]);
            if (dense is not null && cnn is not null)
            {
                var denseCurve = dense.Points.Select(p => ((double)p.TrainImages, p.TestAccuracy.Mean)).ToList();
                foreach (int size in new[] { 1000, 5000 })
                {
                    var target = cnn.Points.FirstOrDefault(p => p.Unit == $"{cnn.Model}+n{size}");
                    if (target is null) continue;
                    string what = $"{cnn.Model}'s accuracy at {Markdown.Count(size)} images ({Markdown.Percent(target.TestAccuracy.Mean)})";
                    double? reach = SizeToReach(denseCurve, target.TestAccuracy.Mean);
                    var best = dense.Points.MaxBy(p => p.TestAccuracy.Mean)!;
                    findings.Add(reach switch
                    {
                        null => $"{dense.Model} never reaches {what} within the sizes run: its best is {Markdown.Percent(best.TestAccuracy.Mean)} with {Markdown.Count(best.TrainImages)} images.",
                        double n when n <= dense.Points[0].TrainImages => $"{dense.Model} already reaches {what} with its smallest set, {Markdown.Count(dense.Points[0].TrainImages)} images.",
                        double n => $"{dense.Model} reaches {what} at about {Markdown.Count((long)Math.Round(n))} training images (interpolated in log size), " +
                                    $"{Markdown.Number(n / size, 1)}× the CNN's data.",
                    });
                }
            }

            const string plotFile = "sample-efficiency.svg";
            var series = curves.Select((c, i) => new CurveSeries(c.Model, [.. c.Points.Select(p => (double)p.TrainImages)],
                [.. c.Points.Select(p => p.TestAccuracy.Mean * 100)], c.Points.All(p => p.TestAccuracy.Count > 1) ? [.. c.Points.Select(p => p.TestAccuracy.Std * 100)] : null, ColorIndex: i)).ToList();
            InductiveBiasPlots.Curves(Path.Combine(folder, plotFile), $"{study.Name}: test accuracy vs training images", "training images (log scale)", "test accuracy (%)", series, logX: true);

            return new StudySections(findings, document =>
            {
                document.Heading(2, "Test accuracy against training-set size");
                document.Paragraph("Each size is a stratified subset of the training split (every class within one image of its share), seeded by the run's seed and nested " +
                                   "(each smaller subset inside each larger one); validation (early stopping) and test sets are the same for every size. Mean and 95 % seed interval.");
                var table = new MarkdownTable(("Model", Align.Left), ("Training images", Align.Right), ("Test accuracy", Align.Right));
                foreach (var c in curves)
                    foreach (var p in c.Points) table.AddRow(c.Model, Markdown.Count(p.TrainImages), p.TestAccuracy.FormatPercent());
                document.Table(table);
                document.Image("test accuracy vs training images (log scale)", plotFile);
                document.Image("test accuracy vs training images (PNG)", Path.ChangeExtension(plotFile, ".png"));
            });
        }
    }
}
