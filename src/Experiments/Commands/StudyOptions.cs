using System.CommandLine;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;
using NativeConv.Experiments.Training;
using Spectre.Console;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// The options every study verb shares (--data-dir, --seed, --seeds, --threads, --epochs, --batch-size, --patience, --limit,
/// --out, --resume, --device, --no-download), plus --models for a verb that runs one <paramref name="study"/>. Create one per
/// command: it adds the options and reads them back as <see cref="StudySettings"/>.
/// </summary>
public sealed class StudyOptions
{
    public StudyOptions(Command command, EngineEnvironment engine, StudyDefinition? study = null)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        var defaults = new StudySettings();
        DataDir = new Option<string?>("--data-dir") { Description = $"Folder holding the datasets (default: ${DataLocator.EnvironmentVariable}, else ./data; missing files are downloaded and verified)" };
        Seed = new Option<int>("--seed") { Description = "Seed of the weights, data order, validation split and --limit subset", DefaultValueFactory = _ => defaults.Seed };
        Seeds = new Option<int>("--seeds") { Description = "Train every model with K seeds (seed, seed+1, ...) and report mean ± std", DefaultValueFactory = _ => 1 };
        Threads = new Option<int>("--threads") { Description = "CPU threads for the kernels (default: all processors)", DefaultValueFactory = _ => defaults.Threads };
        Epochs = new Option<int>("--epochs") { Description = "Maximum epochs per model (early stopping may end sooner)", DefaultValueFactory = _ => defaults.Epochs };
        BatchSize = new Option<int>("--batch-size", "--batch") { Description = "Images per training step", DefaultValueFactory = _ => defaults.BatchSize };
        Patience = new Option<int>("--patience") { Description = "Epochs without a lower validation loss before stopping (0: never stop early)", DefaultValueFactory = _ => defaults.Patience };
        Limit = new Option<int?>("--limit") { Description = "Train on a seeded stratified subset of N training images (and at most N test images), for quick runs" };
        Out = new Option<string>("--out") { Description = "Runs root: results go to OUT/<study>-<timestamp>/", DefaultValueFactory = _ => defaults.Out };
        Resume = new Option<string?>("--resume")
        {
            Description = "Continue an interrupted run: its folder, or no value for the newest one under --out (finished models are not retrained)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        Device = new Option<string>("--device") { Description = "Where to run", DefaultValueFactory = _ => "cpu" };
        NoDownload = new Option<bool>("--no-download") { Description = "Fail with a message saying where to put missing dataset files instead of downloading them" };
        Shard = new Option<string?>("--shard")
        {
            Description = "Train only shard K of N of the study's units (model × seed, study order, dealt round-robin) into the run folder all shards share " +
                          "(OUT/<study>-<run id>/); the shard that finishes last writes results.json and report.md (or run `merge`). " +
                          "auto: K and N from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or K from JOB_COMPLETION_INDEX and N from --shards",
            HelpName = "K/N|auto",
        };
        Shards = new Option<int?>("--shards") { Description = "The shard count N for --shard auto in a Kubernetes Indexed Job (its completions)" };
        RunId = new Option<string?>("--run-id")
        {
            Description = "Name the run folder OUT/<study>-<ID>/ (default with --shard: $SLURM_ARRAY_JOB_ID, else the Kubernetes Job's name " +
                          "($JOB_NAME, else from $HOSTNAME with $JOB_COMPLETION_INDEX); without --shard: a timestamp)",
        };
        ForceConfigChange = new Option<bool>("--force-config-change")
        {
            Description = "With --resume: continue even though the configuration (conv algorithm, fusion, device, threads, data files) differs from the saved one; results.json records both and the epoch where it changed",
        };
        Devices.AddValidation(Device);
        AtLeast(Seeds, 1, 100);
        AtLeast(Threads, 1, 256);
        AtLeast(Epochs, 1, 100_000);
        AtLeast(BatchSize, 1, 1_000_000);
        AtLeast(Patience, 0, 100_000);
        Shards.Validators.Add(r =>
        {
            int? n = ParsedOrNull<int>(r);
            if (n is < 1 or > 10_000) r.AddError($"--shards must be between 1 and 10000; got {n}.");
        });
        Limit.Validators.Add(r =>
        {
            int? n = ParsedOrNull<int>(r);
            if (n is < 20) r.AddError($"--limit must be at least 20 images (two per class for the validation split); got {n}.");
        });
        foreach (var option in new Option[] { DataDir, Seed, Seeds, Threads, Epochs, BatchSize, Patience, Limit, Out, Resume, Device, NoDownload, Shard, Shards, RunId, ForceConfigChange })
            command.Add(option);
        if (study is not null)
        {
            // Checked against the study when the command runs (a bad name exits with 2 and lists the study's models).
            Models = new Option<string[]>("--models")
            {
                Description = $"Train only these of the study's models, in the study's order: NAME[,NAME...] or --models repeated " +
                              $"(default: all: {study.ModelList}). results.json and report.md then cover only them; --resume continues a run's own models",
                Arity = ArgumentArity.OneOrMore,
                AllowMultipleArgumentsPerToken = false,
                HelpName = "NAME[,NAME...]",
            };
            command.Add(Models);
        }
    }

    private readonly EngineEnvironment _engine;

    public Option<string?> DataDir { get; }
    public Option<int> Seed { get; }
    public Option<int> Seeds { get; }
    public Option<int> Threads { get; }
    public Option<int> Epochs { get; }
    public Option<int> BatchSize { get; }
    public Option<int> Patience { get; }
    public Option<int?> Limit { get; }
    public Option<string> Out { get; }
    public Option<string?> Resume { get; }
    public Option<string> Device { get; }
    public Option<bool> NoDownload { get; }
    public Option<string?> Shard { get; }
    public Option<int?> Shards { get; }
    public Option<string?> RunId { get; }
    public Option<bool> ForceConfigChange { get; }

    /// <summary>--models (study verbs only; null for `all`, which always runs every model).</summary>
    public Option<string[]>? Models { get; }

    /// <summary>
    /// The settings as given. --shard auto and the default --run-id of a shard come from the batch system's variables the
    /// edge parsed (<see cref="EngineEnvironment.Cluster"/>); a --shard that cannot be resolved is a <see cref="StudyShardException"/>.
    /// </summary>
    public StudySettings Read(ParseResult result)
    {
        var shard = result.GetValue(Shard) is { } text ? StudyShard.Parse(text, result.GetValue(Shards), _engine.Cluster) : null;
        return ReadCommon(result) with
        {
            Shard = shard,
            RunId = result.GetValue(RunId) ?? (shard is not null ? _engine.Cluster.JobId : null),
            ForceConfigChange = result.GetValue(ForceConfigChange),
        };
    }

    private StudySettings ReadCommon(ParseResult result) => new()
    {
        DataDir = result.GetValue(DataDir),
        Seed = result.GetValue(Seed),
        Seeds = result.GetValue(Seeds),
        Threads = result.GetValue(Threads),
        Epochs = result.GetValue(Epochs),
        BatchSize = result.GetValue(BatchSize),
        Patience = result.GetValue(Patience),
        Limit = result.GetValue(Limit),
        Out = result.GetValue(Out) ?? "runs",
        // Present without a value: the newest run of this study.
        Resume = result.GetResult(Resume) is null ? null : result.GetValue(Resume) ?? StudyFolder.Latest,
        Device = result.GetValue(Device) ?? "cpu",
        // Absent: null (every model, or on --resume the run's own); the names are checked by the study.
        Models = Models is not null && result.GetResult(Models) is not null ? result.GetValue(Models) ?? [] : null,
        Engine = _engine,
    };

    /// <summary>The option's value, or null when it did not parse (the parser already reports that error).</summary>
    internal static T? ParsedOrNull<T>(System.CommandLine.Parsing.OptionResult r) where T : struct
    {
        try { return r.GetValueOrDefault<T>(); }
        catch (InvalidOperationException) { return null; }
    }

    private static void AtLeast(Option<int> option, int min, int max) => option.Validators.Add(r =>
    {
        if (ParsedOrNull<int>(r) is not int value) return;
        if (value < min || value > max) r.AddError($"{option.Name} must be between {min} and {max}; got {value}.");
    });
}

/// <summary>Runs a study verb: Ctrl-C handling, progress display, and the errors a person can fix shown as messages.</summary>
internal static class StudyCommand
{
    /// <summary>A study verb: the study's options, run through <see cref="StudyRunner"/>.</summary>
    public static Command Create(StudyDefinition study, string description, EngineEnvironment engine)
    {
        var command = new Command(study.Name, description);
        var options = new StudyOptions(command, engine, study);
        command.SetAction(result => Guarded(result, () =>
        {
            var settings = options.Read(result).Validate();
            return RunStudy(study, settings, result, data: null, allowDownload: !result.GetValue(options.NoDownload)).ExitCode;
        }));
        return command;
    }

    /// <summary>Runs one study with the console wired up (progress bar or log lines, Ctrl-C).</summary>
    public static StudyOutcome RunStudy(StudyDefinition study, StudySettings settings, ParseResult result, (Dataset, Dataset)? data, bool allowDownload = true)
    {
        var output = CommandIo.Out(result);
        var console = CommandIo.Console(result);
        var runner = new StudyRunner(study, settings, output, console)
        {
            Data = data,
            AllowDownload = allowDownload,
            Progress = ReferenceEquals(output, Console.Out) ? TrainingProgress.ForConsole() : new PlainTrainingProgress(output, TimeSpan.FromSeconds(30)),
        };
        using var interrupt = ConsoleInterrupt.Install(CommandIo.Error(result));
        var outcome = runner.Run(interrupt.Token);
        return outcome.Interrupted ? outcome with { ExitCode = interrupt.ExitCode } : outcome;
    }

    /// <summary>
    /// Turns the errors a person can fix into a message: a --models name that is not one of the study's models, and a --shard
    /// that cannot be resolved, exit with 2 (usage errors, like an unknown model elsewhere); missing data, bad files, bad settings and a bad resume with 1.
    /// </summary>
    public static int Guarded(ParseResult result, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is StudyModelsException or StudyShardException)
        {
            CommandIo.Error(result).WriteLine(e.Message);
            return 2;
        }
        catch (Exception e) when (e is DataUnavailableException or DataFormatException or StudyResumeException or CheckpointFormatException
                                      or TrainingDivergedException or RunLockedException or ArgumentException)
        {
            CommandIo.Error(result).WriteLine(e.Message);
            return 1;
        }
    }
}
