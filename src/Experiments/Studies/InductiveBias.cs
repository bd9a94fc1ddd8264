using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>What the shift, permutation and sample-efficiency studies share: results grouped by unit, and paired comparisons over seeds.</summary>
public static class InductiveBias
{
    /// <summary>
    /// The results that carry <paramref name="key"/>, grouped by unit (in the order the results list them), each run with its
    /// seed and the value <paramref name="read"/> gives.
    /// </summary>
    public static List<(string Unit, List<(int Seed, T Value)> Runs)> ByUnit<T>(StudyResults results, string key, Func<ModelResult, T?> read) where T : class
    {
        ArgumentNullException.ThrowIfNull(results);
        var units = new List<(string Unit, List<(int Seed, T Value)> Runs)>();
        foreach (var result in results.Models)
        {
            if (!result.Extra.ContainsKey(key) || read(result) is not { } value) continue;
            string unit = StudyExtension.UnitOf(result);
            int index = units.FindIndex(u => u.Unit == unit);
            if (index < 0)
            {
                units.Add((unit, []));
                index = units.Count - 1;
            }
            units[index].Runs.Add((StudyExtension.SeedOf(result), value));
        }
        return units;
    }

    /// <summary>
    /// The definition a saved run of <paramref name="study"/> was made with (for `merge`): the sample-efficiency sizes follow
    /// its --limit, the shift study's augmented models its --augment-shift (read from the saved model list). Other studies unchanged.
    /// </summary>
    public static StudyDefinition AsRun(StudyDefinition study, StudySettings settings, IReadOnlyDictionary<string, string> saved)
    {
        ArgumentNullException.ThrowIfNull(study);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(saved);
        if (study.Name.StartsWith(SampleEfficiencyStudy.StudyName, StringComparison.Ordinal)) return SampleEfficiencyStudy.Define(study.Dataset, settings.Limit);
        if (study.Name.StartsWith(ShiftStudy.StudyName, StringComparison.Ordinal) && saved.TryGetValue(StudyFolder.ModelsKey, out var models))
        {
            int augment = models.Split(',').Select(m => ShiftStudy.AugmentShiftOf(StudyDefinition.UnitVariant(m.Trim()))).DefaultIfEmpty(0).Max();
            return ShiftStudy.Define(study.Dataset, augment);
        }
        return study;
    }

    /// <summary>
    /// The per-seed differences a[seed] − b[seed] over the seeds both have (the same seed: the same initialisation stream and data
    /// order), as a <see cref="SeedInterval"/>.
    /// </summary>
    public static SeedInterval PairedDifference(IReadOnlyList<(int Seed, double Value)> a, IReadOnlyList<(int Seed, double Value)> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var differences = new List<double>();
        foreach (var (seed, value) in a)
            foreach (var (other, reference) in b)
                if (other == seed) differences.Add(value - reference);
        return SeedInterval.Of(differences);
    }

    /// <summary>
    /// "WHAT: +1.23 pp (95 % interval ...); ..." and the verdict, computed: the difference is beyond seed noise when the 95 %
    /// interval of the paired differences excludes 0, within it when the interval holds 0, and unknown with one seed.
    /// </summary>
    public static string Compare(string what, SeedInterval difference)
    {
        ArgumentNullException.ThrowIfNull(difference);
        string verdict = difference.Count < 2
            ? "one seed, so whether this exceeds seed noise is unknown (run with --seeds 3 or more)"
            : difference.Contains(0)
                ? "the interval contains 0: within seed noise"
                : "the interval excludes 0: beyond seed noise";
        return $"{what}: {difference.FormatPoints()}; {verdict}.";
    }

    /// <summary><see cref="Compare(string, SeedInterval)"/> of two lists measured with the same seeds, in the same order.</summary>
    public static string Compare(string what, IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return Compare(what, PairedDifference(a.Select((v, i) => (i, v)).ToList(), b.Select((v, i) => (i, v)).ToList()));
    }
}
