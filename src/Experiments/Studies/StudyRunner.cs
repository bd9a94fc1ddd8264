using NativeConv.Experiments.Commands;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using Spectre.Console;

namespace NativeConv.Experiments.Studies;

/// <summary>How a study run ended.</summary>
public sealed record StudyOutcome(string Folder, bool Interrupted, StudyResults? Results, IReadOnlyList<ModelAggregate> Aggregates, IReadOnlyList<string> Findings)
{
    /// <summary>The command's exit code: 0 when the study finished, else what stopped it (130 Ctrl-C, 143 SIGTERM).</summary>
    public int ExitCode { get; init; } = Interrupted ? ConsoleInterrupt.InterruptedExitCode : 0;
}

/// <summary>
/// Runs one training study: prints the settings, loads the data (or takes it preloaded), prepares the seeded splits, trains
/// and tests every model (or the --models subset, in the study's order) with every seed — each with its own checkpoint in the study folder, skipping those a previous
/// (interrupted) run finished — then writes results.json, the plots and report.md, and prints the summary.
/// </summary>
public sealed class StudyRunner
{
    private readonly StudyDefinition _study;
    private readonly StudySettings _settings;
    private readonly IReadOnlyList<string>? _requestedModels;
    private readonly TextWriter _output;
    private readonly IAnsiConsole _console;

    public StudyRunner(StudyDefinition study, StudySettings settings, TextWriter output, IAnsiConsole console)
    {
        _study = study;
        _settings = settings.Validate();
        // A bad --models name fails here, before any data is loaded or folder made.
        _requestedModels = settings.Models is null ? null : study.SelectModels(settings.Models);
        _output = output;
        _console = console;
    }

    /// <summary>The per-epoch display (default: silent).</summary>
    public TrainingProgress Progress { get; set; } = TrainingProgress.Silent;

    /// <summary>Train and test sets already in memory (the `all` command loads each dataset once); null loads them.</summary>
    public (Dataset Train, Dataset Test)? Data { get; set; }

    /// <summary>Called with (model, seed, trainer) before each model trains (tests use it to interrupt a run).</summary>
    public Action<string, int, Trainer>? TrainerCreated { get; set; }

    /// <summary>False: a missing dataset file is an error saying where to put it, with no download attempt.</summary>
    public bool AllowDownload { get; set; } = true;

    /// <summary>Runs the study. Data and resume problems surface as <see cref="DataUnavailableException"/>, <see cref="DataFormatException"/> and <see cref="StudyResumeException"/>.</summary>
    public StudyOutcome Run(CancellationToken cancellation = default)
    {
        try
        {
            return RunCore(cancellation);
        }
        finally
        {
            if (Progress.Study is not null) Progress.Study = null; // the display outlives the study (`all` runs several)
            // This process's part of the training window ends however the run ended.
            if (_part is { } part) _partFolder!.TryEndPart(part);
            _part = null;
            // The run folder's lock, released however the run ended (finished, interrupted, or a resume refused).
            _heldFolder?.Dispose();
            _heldFolder = null;
        }
    }

    private StudyFolder? _heldFolder;

    /// <summary>This process's record in the run's parts/ (see <see cref="StudyFolder.BeginPart"/>); null before the folder is known and for merge.</summary>
    private string? _part;
    private StudyFolder? _partFolder;

    /// <summary>This run folder's forced configuration changes, the last one being this resume's; null when it forced none.</summary>
    private List<ConfigurationChange>? _configurationChanges;

    /// <summary>
    /// Before a model's first timed epoch in this process, one untimed step of a throwaway copy on one batch (default on;
    /// tests compare runs with it off).
    /// </summary>
    public bool WarmUp { get; init; } = true;

    private readonly HashSet<string> _warmedUp = new();

    private StudyOutcome RunCore(CancellationToken cancellation)
    {
        var cpuMeter = CpuUsage.Start(); // CPU vs wall time of this process's part, for report.md's "was the machine busy"
        IReadOnlyList<(string Key, string Value)> numeric = [.. _settings.NumericPairs(), .. _settings.ConfigurationPairs(_study.Dataset)];
        StudyFolder? folder = null;
        IReadOnlyList<string> models = _mergeModels ?? _requestedModels ?? _study.Models;
        if (_settings.Resume is { } resume)
        {
            folder = _heldFolder = StudyFolder.Open(_study.Name, _settings.Out, resume);
            var changed = folder.CheckSettings(numeric, _settings.ForceConfigChange);
            if (changed.Count > 0)
            {
                _configurationChanges = folder.ReadConfigurationChanges();
                _configurationChanges.Add(new ConfigurationChange(DateTimeOffset.Now, changed, []));
                folder.WriteConfigurationChanges(_configurationChanges);
                _output.WriteLine($"--force-config-change: {string.Join(", ", changed.Select(d => $"{d.Key} {d.Before} → {d.After}"))}; recorded in {StudyFolder.ConfigurationChangesFileName} and results.json.");
            }
            // A resume continues the run's own models: without --models it takes them over, a different --models is refused.
            var saved = folder.SavedModels(_study);
            if (_requestedModels is not null && !_requestedModels.SequenceEqual(saved, StringComparer.Ordinal))
                throw new StudyResumeException($"--resume: {folder.Path} was started with --models {string.Join(",", saved)}, not --models {string.Join(",", _requestedModels)}. " +
                                               "Resume with the same --models (or none: a resume continues the run's own models), or start a new run without --resume.");
            models = saved;
        }
        bool subset = !_study.IsWholeStudy(models);

        var baseOptions = _settings.TrainingFor(_settings.Seed);
        var runOptions = new RunOptions(_study.Name, _settings.Seed, _settings.Threads, _settings.BatchSize, _settings.Device, _settings.Engine)
            .With("study", _study.Title)
            .With("models", string.Join(", ", models));
        // A --models subset names the whole study beside it, so results.json says what was left out.
        if (subset) runOptions.With("study_models", _study.ModelList);
        runOptions
            .With("seeds", string.Join(", ", _settings.SeedList()))
            .With("epochs", _settings.Epochs)
            .With("patience", _settings.Patience)
            .With("restore_best_weights", "true")
            .With("learning_rate", "0.001 (Adam, beta1 0.9, beta2 0.999, eps 1e-7)")
            .With("validation", "10 % seeded stratified split of the training set")
            .With("limit", _settings.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none (full dataset)")
            .With("data_dir", DataDescription(_settings.DataDir));
        if (folder is not null) runOptions.With("resume", folder.Path);
        if (_settings.Shard is { } shard) runOptions.With("shard", $"{shard} (run id {_settings.RunId})");
        else if (_settings.RunId is { } id) runOptions.With("run_id", id);
        if (MergeOnly is null) runOptions.Apply();
        runOptions.Print(_output);

        var savedSettings = (IReadOnlyList<(string, string)>)[.. numeric, (StudyFolder.ModelsKey, string.Join(",", models))];
        // The data first: a missing dataset must not leave an empty run folder behind.
        StudySplits? splits = null;
        IReadOnlyList<string>? classNames = null;
        if (MergeOnly is null)
        {
            var (fullTrain, fullTest) = Data ?? LoadData(_study.Dataset, _settings.DataDir, _console, AllowDownload);
            splits = StudySplits.Prepare(fullTrain, fullTest, baseOptions);
            classNames = fullTrain.ClassNames;
            folder ??= _settings.Shard is not null ? StudyFolder.OpenShared(_study.Name, _settings.Out, _settings.RunId!, savedSettings)
                : _settings.RunId is { } runId ? (_heldFolder = StudyFolder.CreateNamed(_study.Name, _settings.Out, runId, savedSettings))
                : (_heldFolder = StudyFolder.Create(_study.Name, _settings.Out, savedSettings));
            _output.WriteLine($"Data: {splits.Train.Count:N0} training, {splits.Validation.Count:N0} validation, {splits.Test.Count:N0} test images of {fullTrain.Shape.C}×{fullTrain.Shape.H}×{fullTrain.Shape.W}.");
        }
        folder ??= MergeOnly!;
        var results = StudyResults.Begin(_study.Name, baseOptions); // asks git for the commit once; the part records the same
        if (MergeOnly is null)
        {
            _partFolder = folder;
            _part = folder.BeginPart(_settings.Shard?.ToString(), results.GitCommit);
        }
        _output.WriteLine($"Run folder: {folder.Path}");
        _output.WriteLine();

        foreach (var (key, value) in runOptions.ToPairs()) results.Settings[key] = value;
        results.Settings["run_folder"] = folder.Path;

        var byModel = new List<(string Model, List<ModelResult> Runs)>();
        var missing = new List<string>();
        (StudyClock? clock, Dictionary<(string, int), int> clockIndex) = MergeOnly is null ? PlanClock(models, folder) : (null, []);
        if (clock is not null && !ReferenceEquals(Progress, TrainingProgress.Silent)) Progress.Study = clock; // Silent is shared: leave it alone
        bool trainedHere = false;
        int unitIndex = 0;
        foreach (string modelName in models)
        {
            var runs = new List<ModelResult>();
            byModel.Add((modelName, runs));
            foreach (int seed in _settings.SeedList())
            {
                string label = _settings.Seeds == 1 ? modelName : $"{modelName}-seed{seed}";
                bool mine = MergeOnly is null && (_settings.Shard?.Owns(unitIndex) ?? true);
                unitIndex++;
                var finished = folder.ReadResult(modelName, seed);
                if (finished is null && mine)
                {
                    // The unit's own lock: two processes never train it at once. Once held, look again: the holder
                    // before us may have finished it.
                    using var unitLock = folder.LockUnit(modelName, seed);
                    finished = folder.ReadResult(modelName, seed);
                    if (finished is null)
                    {
                        if (clockIndex.TryGetValue((modelName, seed), out int planned)) clock?.Begin(planned);
                        var result = TrainOne(modelName, seed, label, splits!, folder, cancellation);
                        clock?.End();
                        trainedHere = true;
                        if (result is null)
                        {
                            _output.WriteLine();
                            _output.WriteLine($"Interrupted while training {label}; the checkpoint is saved. Continue with:");
                            _output.WriteLine(_settings.Shard is { } s
                                ? $"  dotnet run -c Release --project src/Experiments -- {_study.Name} --shard {s} --run-id {_settings.RunId}{ResumeHint()} (the same settings)"
                                : $"  dotnet run -c Release --project src/Experiments -- {_study.Name} --resume {folder.Path}{ResumeHint()}");
                            return new StudyOutcome(folder.Path, true, null, [], []);
                        }
                        folder.WriteResult(modelName, seed, result);
                        if (_part is not null) folder.TryTouchPart(_part);
                        runs.Add(result);
                        results.Models.Add(result);
                        continue;
                    }
                }
                if (finished is null)
                {
                    missing.Add(label);
                    continue;
                }
                _output.WriteLine(mine ? $"{label}: already finished in {folder.Path}; not retrained." : $"{label}: finished by another shard.");
                runs.Add(finished);
                results.Models.Add(finished);
            }
        }

        if (missing.Count > 0)
        {
            if (MergeOnly is not null)
                throw new StudyResumeException($"merge: {folder.Path} has no result yet for {string.Join(", ", missing)}; run (or rerun) the shards that train them, then merge.");
            _output.WriteLine();
            _output.WriteLine($"Shard {_settings.Shard} is done; {missing.Count} unit(s) of other shards are not finished yet ({string.Join(", ", missing)}). " +
                              "The shard that finishes last writes results.json and report.md (or run `merge " + folder.Path + "`).");
            return new StudyOutcome(folder.Path, false, null, [], []);
        }

        // Shards write the report under the folder lock: of two finishing together one writes, the other leaves it.
        using var reportLock = _heldFolder is null ? folder.TryLockFolder() : null;
        if (_heldFolder is null && reportLock is null)
        {
            _output.WriteLine($"Every unit is finished; another process is writing the report in {folder.Path}.");
            return new StudyOutcome(folder.Path, false, null, [], []);
        }

        var aggregates = byModel.Select(m => ModelAggregate.From(m.Model, m.Runs)).ToList();
        var findings = Findings.For(_study, aggregates);
        // A study with an extension computes its own findings and report sections (and plots) from the units' results.
        var sections = _study.Extension?.Report(folder.Path, _study, results, aggregates);
        if (sections is not null) findings = [.. findings, .. sections.Findings];
        results.Extra["aggregates"] = aggregates;
        results.Extra["seeds"] = _settings.SeedList();
        if (folder.ReadConfigurationChanges() is { Count: > 0 } changes) results.Extra["configuration_changes"] = changes;

        if (Progress.Study is not null) Progress.Study = null;
        if (trainedHere) results.CpuUsage = cpuMeter.Stop(_settings.Threads);

        // The training window: from the first part's start to the last part's end (this one's: now).
        if (_part is not null) folder.EndPart(_part);
        var parts = folder.ReadParts();
        if (parts.Count > 0)
        {
            results.Parts = parts;
            results.Started = parts[0].Started;
            results.Finished = parts.Max(p => p.Finished);
        }
        var plots = StudyArtifacts.Write(folder.Path, results);
        const string validationLossFile = "validation-loss.svg";
        Plots.CompareCurves(Path.Combine(folder.Path, validationLossFile), $"{_study.Name}: validation loss", "cross-entropy",
            results.Models.Where(m => m.Training is { History.Count: > 0 }).Select(m => (m.Name, m.Training!.History)).ToList(),
            e => e.ValidationLoss);
        classNames ??= results.Models.Select(m => m.ClassNames).FirstOrDefault(c => c is not null) ?? [];
        StudyReport.Write(Path.Combine(folder.Path, "report.md"), _study, results, aggregates, findings, plots, validationLossFile, classNames, sections?.Write);

        _output.WriteLine();
        ReportTables.PrintSummary(_console, results.Models, _study.Title);
        if (_settings.Seeds > 1) PrintAggregates(aggregates);
        _output.WriteLine();
        _output.WriteLine("Findings:");
        foreach (var line in findings) _output.WriteLine("  - " + line);
        _output.WriteLine();
        _output.WriteLine($"Run folder: {folder.Path}");
        return new StudyOutcome(folder.Path, false, results, aggregates, findings);
    }

    /// <summary>
    /// Set by <see cref="Merge"/>: the run folder whose finished units are only gathered into results.json, report.md and
    /// the plots (nothing trained, no data loaded, the engine left alone).
    /// </summary>
    private StudyFolder? MergeOnly { get; init; }

    /// <summary>
    /// `merge &lt;folder&gt;`: writes the report of a sharded run from its units' result.json files, exactly as the run would
    /// (the same order, aggregates and findings); <see cref="StudyResumeException"/> when a unit has no result yet.
    /// </summary>
    public static StudyOutcome Merge(string path, TextWriter output, IAnsiConsole console, Commands.EngineEnvironment engine)
    {
        var folder = StudyFolder.ReadOnly(path);
        var saved = folder.ReadSettings();
        saved.TryGetValue("study", out var name);
        var study = StudyDefinition.All.FirstOrDefault(s => s.Name == name)
            ?? throw new StudyResumeException($"merge: {folder.SettingsPath} names study '{name}', which is none of {string.Join(", ", StudyDefinition.All.Select(s => s.Name))}.");
        var settings = StudySettings.FromSaved(saved, folder.SettingsPath) with { Out = System.IO.Path.GetDirectoryName(folder.Path)!, Engine = engine };
        study = InductiveBias.AsRun(study, settings, saved); // a study whose models depend on --limit or --augment-shift
        var runner = new StudyRunner(study, settings, output, console) { MergeOnly = folder };
        runner._mergeModels = folder.SavedModels(study);
        return runner.Run();
    }

    private IReadOnlyList<string>? _mergeModels;

    /// <summary>
    /// One training step and one validation pass of a throwaway copy of the model, on one batch of the training data: the
    /// just-in-time compilation of the code paths this model is the first to run (its layers' kernels at its shapes) then
    /// happens outside the timed epochs. Without it the first model of a run carried that cost in its time to its best
    /// epoch (a --limit 600 kernel-study: fmnist-cnn 0.9 s against fmnist-cnn-k5's 0.2 s, mostly compilation), skewing the
    /// wall-clock comparison. The copy has its own weights, optimiser and dropout stream: the real model's bits do not change.
    /// </summary>
    private static void WarmUpModel(string zooModel, TrainingOptions options, StudySplits splits)
    {
        int count = Math.Min(options.BatchSize, splits.Train.Count);
        if (count == 0) return;
        var batch = splits.Train.Select(Enumerable.Range(0, count).ToArray(), "warm-up");
        using var warmUp = new Trainer(ModelZoo.Create(zooModel, seed: 0), options with { Epochs = 1, Patience = 0 });
        warmUp.Fit(batch, batch);
    }

    /// <summary>Trains and tests one model with one seed; null when interrupted (the checkpoint is on disk).</summary>
    private ModelResult? TrainOne(string modelName, int seed, string label, StudySplits splits, StudyFolder folder, CancellationToken cancellation)
    {
        var options = _settings.TrainingFor(seed);
        // A study with variants trains units "zoo-model+variant" on the data (and augmentation) its extension gives them.
        string zooModel = StudyDefinition.ZooModel(modelName);
        var unit = new StudyUnit(modelName, seed, _settings) { Log = _output };
        if (_study.Extension is { } extension) splits = extension.SplitsFor(unit, splits);
        if (WarmUp && _warmedUp.Add(zooModel)) WarmUpModel(zooModel, options, splits);
        var model = ModelZoo.Create(zooModel, seed);
        using var trainer = new Trainer(model, options)
        {
            CheckpointPath = Path.Combine(folder.ModelFolder(modelName, seed), StudyFolder.CheckpointFileName),
            Progress = Progress,
            Augmentation = _study.Extension?.AugmentationFor(unit, splits),
        };
        _output.WriteLine($"{label}: {Reports.Markdown.Count(model.ParameterCount)} parameters — {ModelZoo.Description(zooModel)}");
        trainer.ResumeIfExists(trainer.CheckpointPath);
        if (_configurationChanges is [.., var change])
        {
            // The first epoch (and step) this unit trains under the new configuration.
            var state = trainer.State;
            change.Units.Add(new ConfigurationChangeUnit(label, state.CompletedEpochs + 1, state.StepsIntoEpoch));
            folder.WriteConfigurationChanges(_configurationChanges);
        }
        TrainerCreated?.Invoke(modelName, seed, trainer);
        if (_part is { } part) trainer.EpochCompleted += _ => folder.TryTouchPart(part);
        var training = trainer.Fit(splits.Train, splits.Validation, cancellation);
        if (training.StopReason == StopReason.Interrupted) return null;
        var test = trainer.Evaluate(splits.Test);
        _output.WriteLine($"{label}: {training.StopReason switch { StopReason.EarlyStopping => "early stop", StopReason.Requested => "stopped", _ => "last epoch" }} after {training.History.Count} epoch(s), kept epoch {training.BestEpoch}; test accuracy {Reports.Markdown.Percent(test.Accuracy)}, loss {Reports.Markdown.Number(test.Loss)}");
        // The pictures of a CNN (filters at initialisation and trained, feature maps, confusion), from the run's first seed.
        if (seed == _settings.SeedList()[0])
            ModelPictures.Write(folder.Path, modelName, ModelZoo.Create(zooModel, seed), model, splits.Test);
        var result = ModelResult.From(label, model, training, test, splits.Train.ClassNames, ModelZoo.Description(zooModel));
        result.Extra["model"] = modelName;
        result.Extra["seed"] = seed;
        _study.Extension?.AfterTraining(unit, trainer, splits, result);
        return result;
    }

    /// <summary>The study clock of the units this process will train (its shard's, not yet finished), with their costs.</summary>
    private (StudyClock Clock, Dictionary<(string, int), int> Index) PlanClock(IReadOnlyList<string> models, StudyFolder folder)
    {
        var units = new List<ClockUnit>();
        var index = new Dictionary<(string, int), int>();
        var seeds = _settings.SeedList();
        int unit = 0;
        for (int m = 0; m < models.Count; m++)
        {
            string zoo = StudyDefinition.ZooModel(models[m]);
            double cost = StudyClock.CostOf(ModelZoo.Create(zoo, _settings.Seed), ModelZoo.BatchInputShape(zoo, 1));
            for (int s = 0; s < seeds.Count; s++, unit++)
            {
                if (!(_settings.Shard?.Owns(unit) ?? true) || folder.ReadResult(models[m], seeds[s]) is not null) continue;
                index[(models[m], seeds[s])] = units.Count;
                units.Add(new ClockUnit(models[m], m + 1, models.Count, seeds[s], s + 1, seeds.Count, cost));
            }
        }
        return (new StudyClock(units), index);
    }

    private string ResumeHint() => _settings.DataDir is null ? "" : $" --data-dir {_settings.DataDir}";

    private void PrintAggregates(IReadOnlyList<ModelAggregate> aggregates)
    {
        var table = new Table { Title = new TableTitle($"mean ± std over {_settings.Seeds} seeds") };
        table.AddColumn("Model");
        foreach (var header in new[] { "Params", "Test acc", "Peak val acc", "Gap (train − val)", "Best epoch", "Time" })
            table.AddColumn(new TableColumn(header).RightAligned());
        foreach (var a in aggregates)
            table.AddRow(Markup.Escape(a.Name), Reports.Markdown.Count(a.Parameters), a.TestAccuracy.FormatPercent(),
                a.PeakValidationAccuracy.FormatPercent(), a.Gap.FormatPercent(), a.BestEpoch.FormatNumber(1), Reports.Markdown.Duration(a.TrainSeconds.Mean));
        _console.Write(table);
    }

    /// <summary>Loads a dataset's train and test splits through the data locator (verifying the files, downloading missing ones).</summary>
    public static (Dataset Train, Dataset Test) LoadData(string dataset, string? dataDir, IAnsiConsole console, bool allowDownload = true)
    {
        var locator = DataLocator.Resolve(dataDir);
        using var downloader = new Downloader(console: console);
        return DatasetCatalog.LoadAsync(dataset, locator, downloader, allowDownload).GetAwaiter().GetResult();
    }

    private static string DataDescription(string? dataDir)
    {
        var locator = DataLocator.Resolve(dataDir);
        return $"{locator.Root} (from {locator.Source})";
    }
}
