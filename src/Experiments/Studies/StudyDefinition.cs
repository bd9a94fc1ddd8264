using NativeConv.Experiments.Data;

namespace NativeConv.Experiments.Studies;

/// <summary>What kind of comparison a study makes; decides which findings its report computes.</summary>
public enum StudyKind
{
    /// <summary>A baseline against one challenger (dense vs CNN).</summary>
    BaselineVersusChallenger,
    /// <summary>Two otherwise identical models that differ in one design choice (3×3 vs 5×5 kernels).</summary>
    KernelSize,
    /// <summary>A family of models of growing size, plus a baseline (filter counts).</summary>
    SizeSweep,
    /// <summary>A study whose findings its <see cref="StudyDefinition.Extension"/> computes (shift, permutation, sample efficiency).</summary>
    Extended,
}

/// <summary>One study the experiments program runs: its verb, dataset, models (baseline first) and what it compares.</summary>
public sealed record StudyDefinition(string Name, string Title, string Dataset, StudyKind Kind, IReadOnlyList<string> Models, string Question)
{
    public static readonly StudyDefinition Fmnist = new(
        "fmnist", "Fashion-MNIST: dense MLP vs CNN", DatasetCatalog.FashionMnistName, StudyKind.BaselineVersusChallenger,
        ["fmnist-mlp", "fmnist-cnn"],
        "Does a small CNN beat a dense network of similar size on Fashion-MNIST, and by how much per parameter?");

    public static readonly StudyDefinition KernelStudy = new(
        "kernel-study", "Fashion-MNIST: 3×3 vs 5×5 convolution kernels", DatasetCatalog.FashionMnistName, StudyKind.KernelSize,
        ["fmnist-cnn", "fmnist-cnn-k5"],
        "With everything else fixed, do 5×5 kernels (about 4 % more parameters) beat 3×3 kernels on accuracy, or converge faster?");

    public static readonly StudyDefinition Cifar = new(
        "cifar", "CIFAR-10: dense baseline vs CNN", DatasetCatalog.Cifar10Name, StudyKind.BaselineVersusChallenger,
        ["cifar-dense", "cifar-big"],
        "How much does a CNN with about a tenth of the parameters gain over a dense network on CIFAR-10?");

    public static readonly StudyDefinition FilterStudy = new(
        "filter-study", "CIFAR-10: number of filters (small, medium, big, extra-big) vs dense baseline", DatasetCatalog.Cifar10Name,
        StudyKind.SizeSweep,
        ["cifar-dense", "cifar-small", "cifar-medium", "cifar-big", "cifar-extra-big"],
        "Does accuracy keep rising with the filter count, how much does each doubling of parameters buy, and does the generalisation gap grow?");

    /// <summary>The training studies, in the order `all` runs them (the inductive-bias studies after the reproduced ones).</summary>
    public static IReadOnlyList<StudyDefinition> All { get; } =
    [
        Fmnist, KernelStudy, Cifar, FilterStudy,
        ShiftStudy.Define(DatasetCatalog.FashionMnistName), ShiftStudy.Define(DatasetCatalog.Cifar10Name),
        PermutationStudy.Define(DatasetCatalog.FashionMnistName),
        SampleEfficiencyStudy.Define(DatasetCatalog.FashionMnistName), SampleEfficiencyStudy.Define(DatasetCatalog.Cifar10Name),
    ];

    /// <summary>What the study adds to the standard loop (transformed data, extra measurements, its own findings); null: nothing.</summary>
    public StudyExtension? Extension { get; init; }

    /// <summary>The model-zoo name a unit trains: a study's model entry is a zoo name, optionally '+' and a variant ("fmnist-mlp+permuted").</summary>
    public static string ZooModel(string unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        int plus = unit.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? unit : unit[..plus];
    }

    /// <summary>The variant of a unit (after '+'; "" for a plain model).</summary>
    public static string UnitVariant(string unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        int plus = unit.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? "" : unit[(plus + 1)..];
    }

    /// <summary>The study's baseline (its first model): the reference the findings compare the others with.</summary>
    public string Baseline => Models[0];

    /// <summary>The study's models as one text ("fmnist-mlp, fmnist-cnn"), for messages.</summary>
    public string ModelList => string.Join(", ", Models);

    /// <summary>
    /// The models a --models list picks, in the STUDY's order (whatever order they were given in), each once, with the
    /// study's spelling (names match case-insensitively; "a,b" entries are split at commas). Throws
    /// <see cref="StudyModelsException"/> naming every name that is unknown or not part of this study, and the study's models.
    /// </summary>
    public IReadOnlyList<string> SelectModels(IEnumerable<string> requested)
    {
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (string entry in requested)
        {
            foreach (string part in entry.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                string? match = null;
                foreach (string model in Models)
                    if (string.Equals(model, part, StringComparison.OrdinalIgnoreCase)) match = model;
                if (match is not null) chosen.Add(match);
                // A zoo model of a study with variants ("fmnist-mlp" of fmnist-mlp+n1000, ...) picks all of its units.
                else if (Models.Any(m => m != ZooModel(m) && string.Equals(ZooModel(m), part, StringComparison.OrdinalIgnoreCase)))
                    foreach (string model in Models.Where(m => string.Equals(ZooModel(m), part, StringComparison.OrdinalIgnoreCase))) chosen.Add(model);
                else if (NativeConv.Layers.ModelZoo.Contains(part)) problems.Add($"'{part}' is not part of the {Name} study");
                else problems.Add($"unknown model '{part}'");
            }
        }
        if (problems.Count > 0)
            throw new StudyModelsException($"--models: {string.Join("; ", problems)}. The {Name} study's models: {ModelList}.");
        if (chosen.Count == 0)
            throw new StudyModelsException($"--models: no model named. The {Name} study's models: {ModelList} (comma-separated, or --models repeated).");
        var selection = new List<string>(chosen.Count);
        foreach (string model in Models)
            if (chosen.Contains(model)) selection.Add(model);
        return selection;
    }

    /// <summary>Whether <paramref name="models"/> is the whole study (every model, in its order).</summary>
    public bool IsWholeStudy(IReadOnlyList<string> models) => models.SequenceEqual(Models, StringComparer.Ordinal);
}

/// <summary>A --models list naming a model that is unknown or not part of the study: a message and exit code 2.</summary>
public sealed class StudyModelsException(string message) : Exception(message);
