using System.Globalization;
using NativeConv.Experiments.Training;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// The command-line settings of a study run (common to every study verb). <see cref="TrainingFor"/> turns them into the
/// trainer's options for one seed. Defaults match the reference runs: batch 64, patience 3, at most 30 epochs.
/// </summary>
public sealed record StudySettings
{
    public const int DefaultSeed = 42;

    /// <summary>--data-dir (null: $NATIVECONV_DATA, else ./data).</summary>
    public string? DataDir { get; init; }

    /// <summary>The first seed; with <see cref="Seeds"/> K the runs use seeds Seed, Seed+1, ..., Seed+K−1.</summary>
    public int Seed { get; init; } = DefaultSeed;

    /// <summary>How many seeds each model is trained with (results reported as mean ± std when K > 1).</summary>
    public int Seeds { get; init; } = 1;

    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    public int Epochs { get; init; } = 30;
    public int BatchSize { get; init; } = 64;
    public int Patience { get; init; } = 3;

    /// <summary>Train on a seeded stratified subset of this many images (null: all).</summary>
    public int? Limit { get; init; }

    /// <summary>The runs root (a study writes runs/&lt;study&gt;-&lt;timestamp&gt;/ under it).</summary>
    public string Out { get; init; } = "runs";

    /// <summary>A study folder to continue (null: start a new one).</summary>
    public string? Resume { get; init; }

    public string Device { get; init; } = "cpu";

    /// <summary>The engine settings read from the environment at the command-line edge (conv algorithm, fusion).</summary>
    public Commands.EngineEnvironment Engine { get; init; } = Commands.EngineEnvironment.Defaults;

    /// <summary>
    /// --models: the names of the study's models to train (as given; the study checks and orders them). Null: every model
    /// of the study, or with <see cref="Resume"/> the models the resumed run was started with.
    /// </summary>
    public IReadOnlyList<string>? Models { get; init; }

    /// <summary>--shard K/N: train only this shard's units (model × seed, study order, dealt round-robin); null: all of them.</summary>
    public StudyShard? Shard { get; init; }

    /// <summary>--run-id: the run folder is &lt;Out&gt;/&lt;study&gt;-&lt;RunId&gt;/ (shared by every shard of one job); null: a timestamp.</summary>
    public string? RunId { get; init; }

    /// <summary>--force-config-change: a --resume whose configuration differs from the saved one continues anyway, recording both.</summary>
    public bool ForceConfigChange { get; init; }

    /// <summary>The seeds of the runs, in order.</summary>
    public IReadOnlyList<int> SeedList()
    {
        var seeds = new int[Seeds];
        for (int i = 0; i < seeds.Length; i++) seeds[i] = Seed + i;
        return seeds;
    }

    /// <summary>The trainer's options for the run with <paramref name="seed"/>: Adam 1e-3, 10 % validation, restore-best.</summary>
    public TrainingOptions TrainingFor(int seed) => new TrainingOptions
    {
        Seed = seed,
        Threads = Threads,
        Epochs = Epochs,
        BatchSize = BatchSize,
        Patience = Patience,
        RestoreBestWeights = true,
        Limit = Limit,
        LearningRate = 1e-3f,
        ValidationFraction = 0.1,
        Device = Device,
    }.Validate();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public StudySettings Validate()
    {
        if (Seeds is < 1 or > 100) throw new ArgumentException($"--seeds must be between 1 and 100; got {Seeds}.");
        if (RunId is not null) StudyShard.CheckRunId(RunId);
        if (Resume is not null && (Shard is not null || RunId is not null))
            throw new ArgumentException("--resume cannot be combined with --shard or --run-id: a shard resumes by being started again with the same --run-id (finished units are kept, interrupted ones continue from their checkpoints).");
        if (Shard is not null && RunId is null)
            throw new ArgumentException("--shard needs a run id that every shard of the job shares: give --run-id, or run inside a Slurm array (SLURM_ARRAY_JOB_ID) or a Kubernetes Indexed Job (JOB_NAME).");
        TrainingFor(Seed);
        return this;
    }

    /// <summary>
    /// The settings a run folder's study.json saved (<see cref="NumericPairs"/>), read back for `merge`; a missing or
    /// malformed value is a <see cref="StudyResumeException"/> naming <paramref name="path"/>.
    /// </summary>
    public static StudySettings FromSaved(IReadOnlyDictionary<string, string> saved, string path)
    {
        int Int(string key) => saved.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new StudyResumeException($"{path} has no whole number for '{key}'; it was not written by a study run (or was edited).");
        string limit = saved.TryGetValue("limit", out var l) ? l : "none";
        return new StudySettings
        {
            Seed = Int("seed"),
            Seeds = Int("seeds"),
            Threads = Int("threads"),
            Epochs = Int("epochs"),
            BatchSize = Int("batch_size"),
            Patience = Int("patience"),
            Limit = limit == "none" ? null : Int("limit"),
            Device = saved.TryGetValue("device", out var device) ? device : "cpu",
        };
    }

    /// <summary>
    /// The keys of <see cref="ConfigurationPairs"/> and <see cref="NumericPairs"/> that say how the training runs rather
    /// than what it is: a resume may change them with --force-config-change (and results.json records it).
    /// </summary>
    public static IReadOnlySet<string> ConfigurationKeys { get; } = new HashSet<string>(StringComparer.Ordinal)
        { "threads", "device", "conv_algorithm", "fuse_conv_relu", "data_files" };

    /// <summary>
    /// The configuration that decides the numbers beside <see cref="NumericPairs"/>: the engine's conv algorithm and fusion
    /// (from the environment) and the SHA-256 of the dataset files (the loader refuses a file that does not have it).
    /// </summary>
    public IReadOnlyList<(string Key, string Value)> ConfigurationPairs(string dataset) =>
    [
        ("conv_algorithm", Engine.ConvAlgorithm.ToString().ToLowerInvariant()),
        ("fuse_conv_relu", Engine.FuseConvRelu ? "on" : "off"),
        ("data_files", string.Join(", ", Data.DatasetCatalog.FilesOf(dataset).Select(f => $"{f.FileName} sha256:{f.Sha256}"))),
    ];

    /// <summary>The settings that decide the numbers, as text (stored in the study folder; a resume must match them).</summary>
    public IReadOnlyList<(string Key, string Value)> NumericPairs() =>
    [
        ("seed", Seed.ToString(CultureInfo.InvariantCulture)),
        ("seeds", Seeds.ToString(CultureInfo.InvariantCulture)),
        ("threads", Threads.ToString(CultureInfo.InvariantCulture)),
        ("epochs", Epochs.ToString(CultureInfo.InvariantCulture)),
        ("batch_size", BatchSize.ToString(CultureInfo.InvariantCulture)),
        ("patience", Patience.ToString(CultureInfo.InvariantCulture)),
        ("limit", Limit?.ToString(CultureInfo.InvariantCulture) ?? "none"),
        ("device", Device),
    ];
}
