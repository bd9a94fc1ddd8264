using System.Globalization;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Studies;

/// <summary>The permutation a "+permuted" unit trained and was tested with (results.json): its seed and a digest of the order.</summary>
public sealed record PermutationRecord(int Seed, int Positions, string Sha256);

/// <summary>One model's row of the permutation table: test accuracy with and without the permutation, and the paired change.</summary>
public sealed record PermutationRow(string Model, SeedInterval Plain, SeedInterval Permuted, SeedInterval Change, bool? WithinNoise);

/// <summary>
/// `permutation-study`: one fixed seeded permutation of the pixel positions, applied identically to the training,
/// validation and test images. A dense network has no notion of neighbouring pixels, so its accuracy should not change
/// beyond seed noise; a CNN relies on locality, which the permutation destroys.
/// </summary>
public static class PermutationStudy
{
    public const string StudyName = "permutation-study";
    public const string Variant = "permuted";
    public const string ExtraKey = "permutation";
    public const string ResultsKey = "permutation_study";

    public static StudyDefinition Define(string dataset)
    {
        var plain = ShiftStudy.ModelsFor(dataset);
        var models = new List<string>();
        foreach (var m in plain) models.AddRange([m, $"{m}+{Variant}"]);
        string data = dataset == DatasetCatalog.FashionMnistName ? "Fashion-MNIST" : "CIFAR-10";
        return new StudyDefinition(ShiftStudy.NameFor(StudyName, dataset), $"{data}: a fixed pixel permutation (permutation study)", dataset, StudyKind.Extended, models,
            "With one fixed random permutation of the pixel positions applied to every image, is the dense model's accuracy unchanged within seed noise, and how much does the CNN lose?")
        { Extension = new PermutationExtension() };
    }

    /// <summary>The permutation of a run: seeded by the run's first seed (--seed), the same for every model and seed.</summary>
    public static int[] PermutationOf(StudySettings settings, (int C, int H, int W) shape) => ImageTransforms.PixelPermutation(shape.H, shape.W, settings.Seed);

    /// <summary>
    /// The rows of the table, computed from the units' test accuracies: change = permuted − plain, paired by seed; within noise
    /// when the change's 95 % seed interval contains 0 (null: one seed, unknown).
    /// </summary>
    public static List<PermutationRow> Rows(StudyResults results, IReadOnlyList<string> models)
    {
        ArgumentNullException.ThrowIfNull(results);
        var rows = new List<PermutationRow>();
        foreach (string model in models)
        {
            var plain = Accuracies(results, model);
            var permuted = Accuracies(results, $"{model}+{Variant}");
            if (plain.Count == 0 || permuted.Count == 0) continue;
            var change = InductiveBias.PairedDifference(permuted, plain);
            rows.Add(new PermutationRow(model, SeedInterval.Of(plain.Select(p => p.Value).ToList()), SeedInterval.Of(permuted.Select(p => p.Value).ToList()),
                change, change.Count > 1 ? change.Contains(0) : null));
        }
        return rows;
    }

    private static List<(int Seed, double Value)> Accuracies(StudyResults results, string unit) =>
        results.Models.Where(r => StudyExtension.UnitOf(r) == unit && r.Test is not null).Select(r => (StudyExtension.SeedOf(r), r.Test!.Accuracy)).ToList();

    private sealed class PermutationExtension : StudyExtension
    {
        public override StudySplits SplitsFor(StudyUnit unit, StudySplits splits)
        {
            if (unit.Variant != Variant) return splits;
            var permutation = PermutationOf(unit.Settings, splits.Train.Shape);
            return new StudySplits(ImageTransforms.Permuted(splits.Train, permutation), ImageTransforms.Permuted(splits.Validation, permutation),
                ImageTransforms.Permuted(splits.Test, permutation));
        }

        public override void AfterTraining(StudyUnit unit, Trainer trainer, StudySplits splits, ModelResult result)
        {
            if (unit.Variant != Variant) return;
            var permutation = PermutationOf(unit.Settings, splits.Train.Shape);
            var bytes = new byte[permutation.Length * sizeof(int)];
            Buffer.BlockCopy(permutation, 0, bytes, 0, bytes.Length);
            result.Extra[ExtraKey] = new PermutationRecord(unit.Settings.Seed, permutation.Length,
                Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
        }

        public override StudySections Report(string folder, StudyDefinition study, StudyResults results, IReadOnlyList<ModelAggregate> aggregates)
        {
            var models = study.Models.Select(StudyDefinition.ZooModel).Distinct().ToList();
            var rows = Rows(results, models);
            results.Extra[ResultsKey] = rows;
            var record = results.Models.Select(r => ReadExtra<PermutationRecord>(r, ExtraKey)).FirstOrDefault(r => r is not null);
            const string rule = "the change is within seed noise when the 95 % Student-t interval of the per-seed differences (permuted − plain, same seed) contains 0";

            var findings = new List<string>();
            foreach (var row in rows)
            {
                string verdict = row.WithinNoise switch
                {
                    true => "within seed noise (its interval contains 0)",
                    false => row.Change.Mean < 0 ? "a loss beyond seed noise (its interval excludes 0)" : "a gain beyond seed noise (its interval excludes 0)",
                    null => "of unknown significance (one seed: run with --seeds 3 or more)",
                };
                findings.Add($"{row.Model}: {Markdown.Percent(row.Plain.Mean)} without and {Markdown.Percent(row.Permuted.Mean)} with the permutation; " +
                             $"change {row.Change.FormatPoints()}: {verdict}.");
            }
            var dense = rows.FirstOrDefault(r => r.Model == models[0]);
            var cnn = rows.Count > 1 ? rows.FirstOrDefault(r => r.Model == models[^1]) : null;
            if (dense is not null)
                findings.Add(dense.WithinNoise switch
                {
                    true => $"The dense model's change is within noise, as permutation invariance predicts (rule: {rule}).",
                    false => $"The dense model's change is NOT within noise (rule: {rule}): the permutation changed what it learns in these epochs.",
                    null => $"Whether the dense model's change is within noise cannot be decided with one seed (rule: {rule}).",
                });
            if (dense is not null && cnn is not null)
                findings.Add($"The permutation changes {cnn.Model}'s test accuracy by {Markdown.PercentagePoints(cnn.Change.Mean)} and {dense.Model}'s by {Markdown.PercentagePoints(dense.Change.Mean)}; " +
                             $"{(cnn.Permuted.Mean > dense.Permuted.Mean ? $"the permuted {cnn.Model} still beats the permuted {dense.Model}" : $"permuted, {cnn.Model} no longer beats {dense.Model}")} " +
                             $"({Markdown.Percent(cnn.Permuted.Mean)} vs {Markdown.Percent(dense.Permuted.Mean)}).");

            return new StudySections(findings, document =>
            {
                document.Heading(2, "With and without the pixel permutation");
                document.Paragraph(record is null
                    ? "No permuted unit finished."
                    : $"One permutation of the {record.Positions} pixel positions (seed {record.Seed.ToString(CultureInfo.InvariantCulture)}, SHA-256 of the order `{record.Sha256[..16]}…`), " +
                      "applied to every channel of every training, validation and test image. Change = permuted − plain test accuracy, paired by seed; " +
                      $"rule: {rule}.");
                var table = new MarkdownTable(("Model", Align.Left), ("Plain", Align.Right), ("Permuted", Align.Right), ("Change", Align.Right), ("Within noise?", Align.Left));
                foreach (var row in rows)
                    table.AddRow(row.Model, row.Plain.FormatPercent(), row.Permuted.FormatPercent(), row.Change.FormatPoints(),
                        row.WithinNoise switch { true => "yes", false => "no", null => "unknown (one seed)" });
                document.Table(table);
            });
        }
    }
}
