using System.Globalization;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// What one trained unit measured on the shifted test sets: accuracy at every shift 0..<see cref="MaxShift"/> pixels in each
/// of the 8 <see cref="ImageTransforms.Directions"/> (zero fill), their mean per shift, and the random-shift variant (every
/// image shifted by its own integer (dx, dy), each uniform in [−s, s], seeded by <see cref="RandomSeed"/>). Index = shift in pixels.
/// </summary>
public sealed record ShiftCurves(int MaxShift, int RandomSeed, IReadOnlyList<string> Directions, double[][] ByDirection, double[] Mean, double[] Random);

/// <summary>The shift study's numbers for one unit over its seeds (results.json "shift_study" and the report's tables).</summary>
public sealed record ShiftSummary(
    string Unit, int Seeds, double[] MeanCurve, double[] StdCurve, double[] RandomCurve, double[] RandomStdCurve,
    double[][] ByDirection, SeedInterval Area, SeedInterval RandomArea, double?[] HalfLossShiftPerSeed, double? HalfLossShift);

/// <summary>
/// `shift-study`: the dense model and the CNN trained on unshifted images (and, with --augment-shift P, again with random
/// training shifts of up to P pixels), then tested on the test set translated by 0..6 pixels.
/// </summary>
public static class ShiftStudy
{
    public const string StudyName = "shift-study";
    public const int MaxShift = 6;
    public const string ExtraKey = "shift";
    public const string ResultsKey = "shift_study";
    public const string AugmentVariantPrefix = "shift";

    /// <summary>The dense model and the CNN of a dataset (CIFAR-10: cifar-medium, the CNN (16, 32) — the sample-efficiency study's CNN, a fifth of cifar-big's cost).</summary>
    public static IReadOnlyList<string> ModelsFor(string dataset) => dataset switch
    {
        DatasetCatalog.FashionMnistName => ["fmnist-mlp", "fmnist-cnn"],
        DatasetCatalog.Cifar10Name => ["cifar-dense", "cifar-medium"],
        _ => throw new ArgumentException($"No inductive-bias models for dataset '{dataset}'."),
    };

    /// <summary>The run-folder name of a study on a dataset: "shift-study" (Fashion-MNIST), "shift-study-cifar10".</summary>
    public static string NameFor(string baseName, string dataset) => dataset == DatasetCatalog.FashionMnistName ? baseName : baseName + "-cifar10";

    /// <summary>The study on <paramref name="dataset"/>; <paramref name="augmentShift"/> P &gt; 0 adds each model trained with random shifts ≤ P px ("+shiftP").</summary>
    public static StudyDefinition Define(string dataset, int augmentShift = 0)
    {
        if (augmentShift is < 0 or > 16) throw new ArgumentException($"--augment-shift must be between 0 and 16 pixels; got {augmentShift}.");
        var plain = ModelsFor(dataset);
        var models = new List<string>(plain);
        if (augmentShift > 0) models.AddRange(plain.Select(m => $"{m}+{AugmentVariantPrefix}{augmentShift}"));
        string data = dataset == DatasetCatalog.FashionMnistName ? "Fashion-MNIST" : "CIFAR-10";
        return new StudyDefinition(NameFor(StudyName, dataset), $"{data}: accuracy under translation (shift study)", dataset, StudyKind.Extended, models,
            "How much accuracy does each model keep when the test images are shifted by 1–6 pixels, i.e. how much translation robustness does convolution give (and how much random-shift augmentation gives)?")
        { Extension = new ShiftExtension() };
    }

    /// <summary>The augmentation of a "+shiftP" variant: P; 0 for the plain model.</summary>
    public static int AugmentShiftOf(string variant) =>
        variant.StartsWith(AugmentVariantPrefix, StringComparison.Ordinal) && int.TryParse(variant.AsSpan(AugmentVariantPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : 0;

    /// <summary>
    /// Accuracy of the trainer's current weights on every shifted test set. Shift 0 goes through the same transform (dx = dy = 0),
    /// so it must equal the plain test accuracy of the same weights.
    /// </summary>
    public static ShiftCurves Measure(Trainer trainer, Dataset test, int maxShift, int randomSeed)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var directions = ImageTransforms.Directions;
        double plain = trainer.Evaluate(ImageTransforms.Shifted(test, 0, 0)).Accuracy;
        var byDirection = new double[directions.Count][];
        var mean = new double[maxShift + 1];
        var random = new double[maxShift + 1];
        mean[0] = plain;
        random[0] = plain;
        for (int d = 0; d < directions.Count; d++)
        {
            byDirection[d] = new double[maxShift + 1];
            byDirection[d][0] = plain;
            for (int s = 1; s <= maxShift; s++)
                byDirection[d][s] = trainer.Evaluate(ImageTransforms.Shifted(test, s * directions[d].Dx, s * directions[d].Dy)).Accuracy;
        }
        for (int s = 1; s <= maxShift; s++)
        {
            double sum = 0;
            for (int d = 0; d < directions.Count; d++) sum += byDirection[d][s];
            mean[s] = sum / directions.Count;
            random[s] = trainer.Evaluate(ImageTransforms.RandomlyShifted(test, s, randomSeed)).Accuracy;
        }
        return new ShiftCurves(maxShift, randomSeed, directions.Select(d => d.Name).ToArray(), byDirection, mean, random);
    }

    /// <summary>Area under an accuracy-vs-shift curve (trapezoids, 1 px apart) divided by its width: the mean accuracy over shifts 0..max.</summary>
    public static double Area(IReadOnlyList<double> curve)
    {
        if (curve.Count < 2) return curve.Count == 1 ? curve[0] : double.NaN;
        double sum = 0;
        for (int s = 1; s < curve.Count; s++) sum += (curve[s - 1] + curve[s]) / 2;
        return sum / (curve.Count - 1);
    }

    /// <summary>
    /// The shift (pixels, linearly interpolated between whole shifts) at which the curve has lost half of its accuracy above
    /// <paramref name="chance"/>: the first s with acc(s) − chance ≤ (acc(0) − chance) / 2. Null when it never does within the
    /// curve (or acc(0) is not above chance).
    /// </summary>
    public static double? HalfLossShift(IReadOnlyList<double> curve, double chance)
    {
        if (curve.Count == 0) return null;
        double above = curve[0] - chance;
        if (!(above > 0)) return null;
        double target = chance + above / 2;
        for (int s = 1; s < curve.Count; s++)
        {
            if (curve[s] <= target)
            {
                double drop = curve[s - 1] - curve[s];
                return drop > 0 ? s - 1 + (curve[s - 1] - target) / drop : s;
            }
        }
        return null;
    }

    private sealed class ShiftExtension : StudyExtension
    {
        public override BatchAugmentation? AugmentationFor(StudyUnit unit, StudySplits splits)
        {
            int p = AugmentShiftOf(unit.Variant);
            if (p == 0) return null;
            var (c, h, w) = splits.Train.Shape;
            return new RandomShiftAugmentation(p, unit.Seed, c, h, w).Apply;
        }

        public override void AfterTraining(StudyUnit unit, Trainer trainer, StudySplits splits, ModelResult result)
        {
            unit.Log.WriteLine($"{result.Name}: testing on {ImageTransforms.Directions.Count * MaxShift + MaxShift + 1} shifted copies of the {splits.Test.Count:N0} test images (8 directions and random, 0–{MaxShift} px)...");
            // One random-shift test set per run (the run's first seed), the same for every model and seed: paired comparisons.
            var curves = Measure(trainer, splits.Test, MaxShift, unit.Settings.Seed);
            result.Extra[ExtraKey] = curves;
            unit.Log.WriteLine($"{result.Name}: {Markdown.Percent(curves.Mean[0])} unshifted, {Markdown.Percent(curves.Mean[MaxShift])} at {MaxShift} px (mean of 8 directions), {Markdown.Percent(curves.Random[MaxShift])} at random shifts ≤ {MaxShift} px");
        }

        public override StudySections Report(string folder, StudyDefinition study, StudyResults results, IReadOnlyList<ModelAggregate> aggregates)
        {
            double chance = 1.0 / Math.Max(1, results.Models.FirstOrDefault()?.ClassNames?.Count ?? 10);
            var units = InductiveBias.ByUnit(results, ExtraKey, r => ReadExtra<ShiftCurves>(r, ExtraKey));
            var summaries = units.Select(u => Summarise(u.Unit, u.Runs.Select(r => r.Value).ToList(), chance)).ToList();
            results.Extra[ResultsKey] = summaries;

            var findings = new List<string>();
            foreach (var s in summaries)
            {
                string half = s.HalfLossShift is double h
                    ? $"loses half of its accuracy above chance ({Markdown.Percent(chance, 0)}) at a shift of {Markdown.Number(h, 2)} px" + (s.Seeds > 1 ? " (mean over seeds)" : "")
                    : $"does not lose half of its accuracy above chance ({Markdown.Percent(chance, 0)}) within {MaxShift} px" +
                      (s.HalfLossShiftPerSeed.Any(v => v is not null) ? $" in every seed (per seed: {string.Join(", ", s.HalfLossShiftPerSeed.Select(v => v is double x ? Markdown.Number(x, 2) + " px" : $"> {MaxShift} px"))})" : "");
                findings.Add($"{s.Unit}: {Markdown.Percent(s.MeanCurve[0])} unshifted, {Markdown.Percent(s.MeanCurve[^1])} at {MaxShift} px (mean of the 8 directions); " +
                             $"it {half}. Area under the curve (mean accuracy over shifts 0–{MaxShift} px): {s.Area.FormatPercent()}; " +
                             $"with random shifts of up to s px: {s.RandomArea.FormatPercent()}.");
            }
            var plain = ModelsFor(study.Dataset);
            var dense = summaries.FirstOrDefault(s => s.Unit == plain[0]);
            var cnn = summaries.FirstOrDefault(s => s.Unit == plain[1]);
            if (dense is not null && cnn is not null)
                findings.Add(InductiveBias.Compare($"{cnn.Unit} − {dense.Unit}: area under the shift curve", Areas(units, cnn.Unit), Areas(units, dense.Unit)));
            foreach (var s in summaries.Where(s => AugmentShiftOf(StudyDefinition.UnitVariant(s.Unit)) > 0))
            {
                string baseModel = StudyDefinition.ZooModel(s.Unit);
                if (summaries.Any(o => o.Unit == baseModel))
                    findings.Add(InductiveBias.Compare($"{s.Unit} − {baseModel} (what random-shift augmentation adds): area under the shift curve", Areas(units, s.Unit), Areas(units, baseModel)));
            }

            const string curvesFile = "shift-accuracy.svg";
            var series = new List<CurveSeries>();
            var shifts = Enumerable.Range(0, MaxShift + 1).Select(s => (double)s).ToArray();
            for (int i = 0; i < summaries.Count; i++)
            {
                var s = summaries[i];
                series.Add(new CurveSeries($"{s.Unit} (8 directions)", shifts, Percent(s.MeanCurve), s.Seeds > 1 ? Percent(s.StdCurve) : null, ColorIndex: i));
                series.Add(new CurveSeries($"{s.Unit} (random ≤ s)", shifts, Percent(s.RandomCurve), null, Secondary: true, ColorIndex: i));
            }
            InductiveBiasPlots.Curves(Path.Combine(folder, curvesFile), $"{study.Name}: test accuracy vs shift", "shift (pixels, zero fill)", "accuracy (%)",
                series, horizontalLine: chance * 100, horizontalLineLabel: "chance", legend: ScottPlot.Alignment.LowerLeft);
            var directionFiles = new List<(string Unit, string File)>();
            foreach (var s in summaries)
            {
                string file = $"shift-directions-{StudyArtifacts.FileSafe(s.Unit)}.svg";
                var lines = ImageTransforms.Directions.Select((d, k) => new CurveSeries(d.Name, shifts, Percent(s.ByDirection[k]))).ToList();
                InductiveBiasPlots.Curves(Path.Combine(folder, file), $"{s.Unit}: test accuracy vs shift per direction", "shift (pixels, zero fill)", "accuracy (%)",
                    lines, horizontalLine: chance * 100, horizontalLineLabel: "chance", legend: ScottPlot.Alignment.LowerLeft);
                directionFiles.Add((s.Unit, file));
            }

            return new StudySections(findings, document =>
            {
                document.Heading(2, "Accuracy against shift");
                document.Paragraph($"Test accuracy (mean over seeds) with the test images translated by s pixels, zero fill: the mean of the 8 directions " +
                                   $"(right, left, down, up, and the diagonals by s in both axes), and random shifts (each image by its own integer dx, dy uniform in [−s, s], seed {(units.Count > 0 ? units[0].Runs[0].Value.RandomSeed.ToString(CultureInfo.InvariantCulture) : "—")}). " +
                                   $"Area = mean accuracy over shifts 0–{MaxShift} px (trapezoids), with its 95 % seed interval. Half-loss shift: where accuracy − chance first falls to half its unshifted value (interpolated).");
                document.Table(CurveTable(summaries, s => s.MeanCurve, s => s.Area, includeHalf: true));
                document.Heading(3, "Random shifts (each image by its own dx, dy in [−s, s])");
                document.Table(CurveTable(summaries, s => s.RandomCurve, s => s.RandomArea, includeHalf: false));
                document.Image("test accuracy vs shift", curvesFile);
                document.Image("test accuracy vs shift (PNG)", Path.ChangeExtension(curvesFile, ".png"));
                foreach (var (unit, file) in directionFiles)
                {
                    var s = summaries.First(x => x.Unit == unit);
                    document.Heading(3, $"{unit}: per direction (mean over seeds)");
                    var table = new MarkdownTable([("Direction", Align.Left), .. shifts.Select(x => ($"{x} px", Align.Right))]);
                    for (int d = 0; d < s.ByDirection.Length; d++)
                        table.AddRow([ImageTransforms.Directions[d].Name, .. s.ByDirection[d].Select(v => Markdown.Percent(v))]);
                    document.Table(table);
                    document.Image($"{unit}: accuracy vs shift per direction", Path.ChangeExtension(file, ".png"));
                }
            });
        }

        private static List<double> Areas(IReadOnlyList<(string Unit, List<(int Seed, ShiftCurves Value)> Runs)> units, string unit) =>
            units.First(u => u.Unit == unit).Runs.Select(r => Area(r.Value.Mean)).ToList();

        private static MarkdownTable CurveTable(IReadOnlyList<ShiftSummary> summaries, Func<ShiftSummary, double[]> curve, Func<ShiftSummary, SeedInterval> area, bool includeHalf)
        {
            var columns = new List<(string, Align)> { ("Model", Align.Left) };
            for (int s = 0; s <= MaxShift; s++) columns.Add(($"{s} px", Align.Right));
            columns.Add(("Area (0–6 px)", Align.Right));
            if (includeHalf) columns.Add(("Half-loss shift", Align.Right));
            var table = new MarkdownTable([.. columns]);
            foreach (var s in summaries)
            {
                var cells = new List<string> { s.Unit };
                cells.AddRange(curve(s).Select(v => Markdown.Percent(v)));
                cells.Add(area(s).FormatPercent());
                if (includeHalf) cells.Add(s.HalfLossShift is double h ? $"{Markdown.Number(h, 2)} px" : $"> {MaxShift} px");
                table.AddRow([.. cells]);
            }
            return table;
        }
    }

    private static double[] Percent(double[] fractions) => Array.ConvertAll(fractions, f => f * 100);

    /// <summary>One unit's curves over its seeds: mean and std per shift, areas with intervals, half-loss shifts.</summary>
    public static ShiftSummary Summarise(string unit, IReadOnlyList<ShiftCurves> runs, double chance)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException($"Shift study: unit '{unit}' has no measured curves.");
        int points = runs[0].Mean.Length;
        double[] mean = new double[points], std = new double[points], random = new double[points], randomStd = new double[points];
        for (int s = 0; s < points; s++)
        {
            var m = SeedStat.Of(runs.Select(r => r.Mean[s]).ToList());
            var r = SeedStat.Of(runs.Select(r => r.Random[s]).ToList());
            (mean[s], std[s], random[s], randomStd[s]) = (m.Mean, m.Std, r.Mean, r.Std);
        }
        var byDirection = new double[runs[0].ByDirection.Length][];
        for (int d = 0; d < byDirection.Length; d++)
        {
            byDirection[d] = new double[points];
            for (int s = 0; s < points; s++) byDirection[d][s] = runs.Average(r => r.ByDirection[d][s]);
        }
        var perSeed = runs.Select(r => HalfLossShift(r.Mean, chance)).ToArray();
        return new ShiftSummary(unit, runs.Count, mean, std, random, randomStd, byDirection,
            SeedInterval.Of(runs.Select(r => Area(r.Mean)).ToList()), SeedInterval.Of(runs.Select(r => Area(r.Random)).ToList()),
            perSeed, HalfLossShift(mean, chance));
    }
}
