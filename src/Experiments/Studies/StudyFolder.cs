using System.Text.Json;
using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// The folder of one study run, and what makes it resumable: study.json (the settings that decide the numbers) and, per
/// model and seed, models/&lt;model&gt;-seed&lt;seed&gt;/ with the trainer's checkpoint (written every epoch and on Ctrl-C)
/// and result.json (written once the model is trained and tested: such a model is never retrained on --resume).
/// A folder made by <see cref="Create"/> or <see cref="Open"/> holds the run's <see cref="RunLock"/> until disposed, so no
/// second process writes into it at the same time.
/// </summary>
public sealed class StudyFolder : IDisposable
{
    public const string SettingsFileName = "study.json";
    public const string CheckpointFileName = "checkpoint.safetensors";
    public const string ResultFileName = "result.json";
    public const string Latest = "latest";

    /// <summary>The study.json key of the models a run trains (comma-separated, study order); absent in runs made before --models.</summary>
    public const string ModelsKey = "models";

    private readonly RunLock? _lock;

    // The parts this process began, by file: their stamps are written from here, so a part file deleted or damaged
    // mid-run is simply written again instead of failing the study at its end.
    private readonly Dictionary<string, RunPart> _begunParts = new();

    private StudyFolder(string path, RunLock? held = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        _lock = held;
    }

    public string Path { get; }

    /// <summary>Releases the run folder's lock (a no-op for a folder only looked at).</summary>
    public void Dispose() => _lock?.Dispose();

    /// <summary>A new run folder runs/&lt;study&gt;-&lt;timestamp&gt;/ holding the study's settings.</summary>
    public static StudyFolder Create(string study, string root, IReadOnlyList<(string Key, string Value)> settings)
    {
        var held = RunDirectory.CreateLocked(study, root);
        var folder = new StudyFolder(held.Folder, held);
        AtomicFile.WriteAllText(folder.SettingsPath, SettingsJson(study, settings));
        return folder;
    }

    /// <summary>
    /// The run folder &lt;root&gt;/&lt;study&gt;-&lt;runId&gt;/ that every shard of one job shares, opened without its folder lock
    /// (shards run at the same time; each unit is guarded by <see cref="LockUnit"/>). The first shard creates it and its
    /// study.json (published with a no-overwrite move, so two shards starting together cannot both write it); the others
    /// check that their settings match the saved ones (<see cref="StudyResumeException"/> when not).
    /// </summary>
    public static StudyFolder OpenShared(string study, string root, string runId, IReadOnlyList<(string Key, string Value)> settings)
    {
        StudyShard.CheckRunId(runId);
        var folder = new StudyFolder(System.IO.Path.Combine(root, $"{study}-{runId}"));
        Directory.CreateDirectory(folder.Path);
        if (!File.Exists(folder.SettingsPath))
        {
            string temporary = System.IO.Path.Combine(folder.Path, $".{SettingsFileName}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(temporary, SettingsJson(study, settings));
            try { File.Move(temporary, folder.SettingsPath, overwrite: false); }
            catch (IOException) when (File.Exists(folder.SettingsPath)) { } // another shard published it first: check against it below
            finally { if (File.Exists(temporary)) File.Delete(temporary); }
        }
        var saved = folder.ReadSettings();
        if (!saved.TryGetValue("study", out var savedStudy) || savedStudy != study)
            throw new StudyResumeException($"--run-id: {folder.Path} holds a '{savedStudy}' run, not '{study}'.");
        var differences = new List<string>();
        foreach (var (key, value) in settings)
            if (!saved.TryGetValue(key, out var was) || was != value) differences.Add($"{key} {was ?? "(absent)"} → {value}");
        if (differences.Count > 0)
            throw new StudyResumeException($"--run-id: {folder.Path} was started by another shard with other settings ({string.Join(", ", differences)}). Every shard of a run takes the same settings; use another --run-id for a new run.");
        return folder;
    }

    /// <summary>A new run folder with a chosen name (--run-id without --shard), locked like <see cref="Create"/>; an existing one is refused.</summary>
    public static StudyFolder CreateNamed(string study, string root, string runId, IReadOnlyList<(string Key, string Value)> settings)
    {
        StudyShard.CheckRunId(runId);
        string path = System.IO.Path.Combine(root, $"{study}-{runId}");
        var held = (Directory.Exists(path) ? null : RunLock.TryClaim(path))
            ?? throw new StudyResumeException($"--run-id: {System.IO.Path.GetFullPath(path)} already exists; continue it with --resume {path}, or choose another --run-id.");
        var folder = new StudyFolder(held.Folder, held);
        AtomicFile.WriteAllText(folder.SettingsPath, SettingsJson(study, settings));
        return folder;
    }

    /// <summary>An existing run folder, only read (the `merge` verb): no lock is taken here.</summary>
    public static StudyFolder ReadOnly(string path)
    {
        var folder = new StudyFolder(path);
        if (!File.Exists(folder.SettingsPath))
            throw new StudyResumeException($"{folder.Path} is not a study folder (it has no {SettingsFileName}); name a folder that a study run created.");
        return folder;
    }

    private static string SettingsJson(string study, IReadOnlyList<(string Key, string Value)> settings)
    {
        var document = new Dictionary<string, string> { ["study"] = study };
        foreach (var (key, value) in settings) document[key] = value;
        return JsonSerializer.Serialize(document, ResultsJson.SerializerOptions) + "\n";
    }

    /// <summary>
    /// The lock of one unit (model × seed) — `models/&lt;model&gt;-seed&lt;seed&gt;/.lock` — held while that unit trains, so the
    /// same unit is never trained by two processes at once (two shards given overlapping work, a shard and a --resume);
    /// <see cref="RunLockedException"/> names the holder. Leftovers of killed writes in the unit's folder are removed.
    /// </summary>
    public RunLock LockUnit(string model, int seed)
    {
        string unit = ModelFolder(model, seed);
        var held = RunLock.Acquire(unit);
        foreach (var file in Directory.EnumerateFiles(unit, ".*.tmp-*"))
        {
            try { File.Delete(file); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return held;
    }

    /// <summary>Takes the folder lock for writing the run's report (the shard that finishes last); null when another process holds it.</summary>
    public RunLock? TryLockFolder()
    {
        try { return RunLock.Acquire(Path); }
        catch (RunLockedException) { return null; }
    }

    /// <summary>
    /// The folder to resume: <paramref name="resume"/> itself, or with "latest" the newest &lt;study&gt;-* folder under
    /// <paramref name="root"/> that has a study.json, locked for this process (<see cref="RunLockedException"/> when another
    /// live process holds it). Temporary files that a killed write left behind (".*.tmp-*") are removed. Throws
    /// <see cref="StudyResumeException"/> saying what is wrong.
    /// </summary>
    public static StudyFolder Open(string study, string root, string resume)
    {
        string path = resume;
        if (string.Equals(resume, Latest, StringComparison.OrdinalIgnoreCase))
        {
            string? newest = FindLatest(study, root);
            path = newest ?? throw new StudyResumeException($"--resume: there is no earlier '{study}' run under {System.IO.Path.GetFullPath(root)} to continue; run the study without --resume first, or name the folder (--resume runs/{study}-YYYYMMDD-HHMMSS).");
        }
        var folder = new StudyFolder(path);
        if (!File.Exists(folder.SettingsPath))
            throw new StudyResumeException($"--resume: {folder.Path} is not a study folder (it has no {SettingsFileName}); name a folder that a '{study}' run created.");
        var saved = folder.ReadSettings();
        if (!saved.TryGetValue("study", out var savedStudy) || savedStudy != study)
            throw new StudyResumeException($"--resume: {folder.Path} holds a '{savedStudy}' run, not '{study}'.");
        var held = RunLock.Acquire(folder.Path);
        RemoveTemporaries(folder.Path);
        return new StudyFolder(folder.Path, held);
    }

    /// <summary>
    /// Deletes ".NAME.tmp-*" files (an atomic write killed before its rename) in a locked run folder: its own files, and those
    /// of every unit folder whose unit lock is free — a unit a live shard is training keeps its files, since its writer
    /// may be between writing a temporary and renaming it.
    /// </summary>
    private static void RemoveTemporaries(string path)
    {
        DeleteTemporaries(path);
        string models = System.IO.Path.Combine(path, "models");
        if (!Directory.Exists(models)) return;
        foreach (var unit in Directory.EnumerateDirectories(models))
        {
            RunLock unitLock;
            try { unitLock = RunLock.Acquire(unit); }
            catch (RunLockedException) { continue; }
            using (unitLock) DeleteTemporaries(unit);
        }
    }

    private static void DeleteTemporaries(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder, ".*.tmp-*"))
        {
            try { File.Delete(file); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The newest &lt;study&gt;-* folder under <paramref name="root"/> with a study.json (and, with <paramref name="accept"/>,
    /// whose saved settings it accepts), or null.
    /// </summary>
    public static string? FindLatest(string study, string root, Func<StudyFolder, bool>? accept = null)
    {
        if (!Directory.Exists(root)) return null;
        string? newest = null;
        DateTime newestTime = DateTime.MinValue;
        foreach (var directory in Directory.GetDirectories(root, study + "-*"))
        {
            // "kernel-study-..." must not match a hypothetical "kernel-study-x-..." study: the suffix starts with a digit.
            string suffix = System.IO.Path.GetFileName(directory)[(study.Length + 1)..];
            if (suffix.Length == 0 || !char.IsAsciiDigit(suffix[0])) continue;
            string settings = System.IO.Path.Combine(directory, SettingsFileName);
            if (!File.Exists(settings)) continue;
            if (accept is not null && !accept(new StudyFolder(directory))) continue;
            var time = File.GetLastWriteTimeUtc(settings);
            if (newest is null || time > newestTime || (time == newestTime && string.CompareOrdinal(directory, newest) > 0))
            {
                newest = directory;
                newestTime = time;
            }
        }
        return newest;
    }

    public string SettingsPath => System.IO.Path.Combine(Path, SettingsFileName);

    public Dictionary<string, string> ReadSettings() =>
        ReadJson<Dictionary<string, string>>(SettingsPath, "it holds the run's settings; restore it from a copy, or start a new run without --resume");

    /// <summary>
    /// The models this run was started with, in the study's order: the saved --models selection, or every model of
    /// <paramref name="study"/> for a run made before --models existed (those always trained the whole study).
    /// </summary>
    public IReadOnlyList<string> SavedModels(StudyDefinition study)
    {
        if (!ReadSettings().TryGetValue(ModelsKey, out var saved)) return study.Models;
        try
        {
            return study.SelectModels([saved]);
        }
        catch (StudyModelsException)
        {
            throw new StudyResumeException($"--resume: {SettingsPath} lists models '{saved}' that are not (all) part of the {study.Name} study ({study.ModelList}); start a new run without --resume.");
        }
    }

    /// <summary>
    /// Checks that <paramref name="settings"/> match the saved ones. The settings of the training itself (seed, epochs,
    /// batch...) must always match; the configuration that runs it (<see cref="StudySettings.ConfigurationKeys"/>: conv
    /// algorithm, fusion, device, threads, data files) must match too unless <paramref name="forceConfigChange"/>, and then
    /// its differences are returned (and study.json takes the new values, so the next resume compares with them). A key
    /// that a run made by an older version did not save is not compared. Throws <see cref="StudyResumeException"/> (one line).
    /// </summary>
    public IReadOnlyList<ConfigurationDifference> CheckSettings(IReadOnlyList<(string Key, string Value)> settings, bool forceConfigChange = false)
    {
        var saved = ReadSettings();
        var differences = new List<string>();
        var configuration = new List<ConfigurationDifference>();
        foreach (var (key, value) in settings)
        {
            if (!saved.TryGetValue(key, out var was) || was == value) continue;
            if (StudySettings.ConfigurationKeys.Contains(key)) configuration.Add(new ConfigurationDifference(key, was, value));
            else differences.Add($"{key} {was} → {value}");
        }
        if (differences.Count > 0)
            throw new StudyResumeException($"--resume: {Path} was made with other settings ({string.Join(", ", differences)}). Resume with the original settings, or start a new run without --resume.");
        if (configuration.Count > 0 && !forceConfigChange)
            throw new StudyResumeException($"--resume: {Path} was made with another configuration ({string.Join(", ", configuration.Select(d => $"{d.Key} {d.Before} → {d.After}"))}), which changes the numbers. " +
                                           "Resume with the original one, or give --force-config-change to continue anyway (results.json then records both and the epoch of the change).");
        if (configuration.Count > 0)
        {
            foreach (var d in configuration) saved[d.Key] = d.After;
            AtomicFile.WriteAllText(SettingsPath, JsonSerializer.Serialize(saved, ResultsJson.SerializerOptions) + "\n");
        }
        return configuration;
    }

    /// <summary>
    /// Records that this process starts working on the run: parts/part-&lt;start&gt;-&lt;pid&gt;.json with its start, the
    /// commit it runs (so a run resumed by a newer build says which parts each build did) and, for now, the same end, marked
    /// interrupted until <see cref="EndPart"/> stamps the real one (<see cref="TouchPart"/> moves it along meanwhile, so a
    /// killed process still leaves how far it got). One file per part, so concurrent shards never write the same one.
    /// </summary>
    public string BeginPart(string? shard, string commit)
    {
        var now = DateTimeOffset.Now;
        string parts = System.IO.Path.Combine(Path, "parts");
        Directory.CreateDirectory(parts);
        string file = System.IO.Path.Combine(parts, $"part-{now.UtcDateTime:yyyyMMddTHHmmssfffffff}-{Environment.ProcessId}.json");
        var part = new RunPart(now, now, shard, commit) { Interrupted = true };
        lock (_begunParts) _begunParts[file] = part;
        WritePart(file, part);
        return file;
    }

    /// <summary>Moves the part's end to now, still marked interrupted (called after every epoch and unit).</summary>
    public void TouchPart(string file) => StampPart(file, interrupted: true);

    /// <summary>
    /// <see cref="TouchPart"/> during training: a part file that cannot be written (deleted, disk full) only leaves its
    /// end where it was; it never stops the training (a deleted or damaged one is written again by the next stamp).
    /// </summary>
    public void TryTouchPart(string file) => TryStampPart(file, interrupted: true);

    /// <summary>Stamps the end of the part <see cref="BeginPart"/> started (and writes the file again if it went missing).</summary>
    public void EndPart(string file) => StampPart(file, interrupted: false);

    /// <summary>
    /// <see cref="EndPart"/> where the run is already failing: a part file that cannot be written is left as it is rather
    /// than hiding the run's own error behind its own.
    /// </summary>
    public void TryEndPart(string file) => TryStampPart(file, interrupted: false);

    private void TryStampPart(string file, bool interrupted)
    {
        try { StampPart(file, interrupted); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or StudyResumeException) { }
    }

    private void StampPart(string file, bool interrupted)
    {
        RunPart? begun;
        lock (_begunParts) _begunParts.TryGetValue(file, out begun);
        var part = begun ?? ReadJson<RunPart>(file, "delete it (it only records when a part of the run ran)");
        WritePart(file, part with { Finished = DateTimeOffset.Now, Interrupted = interrupted });
    }

    /// <summary>Every recorded part of the run, oldest first.</summary>
    public List<RunPart> ReadParts()
    {
        string parts = System.IO.Path.Combine(Path, "parts");
        if (!Directory.Exists(parts)) return [];
        return [.. Directory.EnumerateFiles(parts, "part-*.json")
            .Select(f => ReadJson<RunPart>(f, "delete it (it only records when a part of the run ran)"))
            .OrderBy(p => p.Started)];
    }

    private static void WritePart(string file, RunPart part) =>
        AtomicFile.WriteAllText(file, JsonSerializer.Serialize(part, ResultsJson.SerializerOptions) + "\n");

    public const string ConfigurationChangesFileName = "configuration-changes.json";

    /// <summary>The configuration changes forced on this run so far (configuration-changes.json; empty when none).</summary>
    public List<ConfigurationChange> ReadConfigurationChanges()
    {
        string path = System.IO.Path.Combine(Path, ConfigurationChangesFileName);
        return File.Exists(path) ? ReadJson<List<ConfigurationChange>>(path, "restore it from a copy (it records a --force-config-change)") : [];
    }

    /// <summary>Replaces configuration-changes.json (atomically) with <paramref name="changes"/>.</summary>
    public void WriteConfigurationChanges(IReadOnlyList<ConfigurationChange> changes) =>
        AtomicFile.WriteAllText(System.IO.Path.Combine(Path, ConfigurationChangesFileName), JsonSerializer.Serialize(changes, ResultsJson.SerializerOptions) + "\n");

    /// <summary>The folder of one model trained with one seed (created on demand).</summary>
    public string ModelFolder(string model, int seed)
    {
        string folder = System.IO.Path.Combine(Path, "models", $"{StudyArtifacts.FileSafe(model)}-seed{seed}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>The finished result of a model and seed, or null when it has not finished.</summary>
    public ModelResult? ReadResult(string model, int seed)
    {
        string path = System.IO.Path.Combine(Path, "models", $"{StudyArtifacts.FileSafe(model)}-seed{seed}", ResultFileName);
        if (!File.Exists(path)) return null;
        const string remedy = "delete it to retrain that model";
        string text;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("result", out var result) || !root.TryGetProperty("sha256", out var digest))
                return ReadJson<ModelResult>(path, remedy); // written before results carried a digest
            text = result.GetRawText();
            if (!string.Equals(digest.GetString(), Sha256(text), StringComparison.OrdinalIgnoreCase))
                throw new StudyResumeException($"--resume: {path} does not match its SHA-256: the file was changed after it was written; {remedy}.");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) // InvalidOperation: a "sha256" that is not a string
        {
            throw new StudyResumeException($"--resume: {path} is damaged ({FirstLine(e.Message)}); {remedy}.");
        }
        return Deserialize<ModelResult>(text, path, remedy);
    }

    private static string Sha256(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>
    /// A JSON file of the run folder, or a <see cref="StudyResumeException"/> naming the file, what is wrong and
    /// <paramref name="remedy"/> — never a System.Text.Json stack trace.
    /// </summary>
    private static T ReadJson<T>(string path, string remedy) where T : class => Deserialize<T>(File.ReadAllText(path), path, remedy);

    private static T Deserialize<T>(string json, string path, string remedy) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, ResultsJson.SerializerOptions)
                ?? throw new JsonException("it holds JSON null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new StudyResumeException($"--resume: {path} is damaged ({FirstLine(e.Message)}); {remedy}.");
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    /// <summary>
    /// Writes a model's finished result as {"format", "sha256", "result"}: the digest covers the result's JSON text exactly as
    /// stored, so a changed byte is refused on --resume instead of entering results.json.
    /// </summary>
    public void WriteResult(string model, int seed, ModelResult result)
    {
        string json = JsonSerializer.Serialize(result, ResultsJson.SerializerOptions);
        AtomicFile.WriteAllText(System.IO.Path.Combine(ModelFolder(model, seed), ResultFileName),
            $"{{\n  \"format\": \"nativeconv-result\",\n  \"sha256\": \"{Sha256(json)}\",\n  \"result\": {json}\n}}\n");
    }
}

/// <summary>One configuration setting that a forced resume changed.</summary>
public sealed record ConfigurationDifference(string Key, string Before, string After);

/// <summary>Where one unit (model × seed) went on under a changed configuration: from this epoch and step (1-based epoch; step 0: its start).</summary>
public sealed record ConfigurationChangeUnit(string Unit, int Epoch, int Step);

/// <summary>A --force-config-change resume: when, what changed, and per unit the epoch from which the new configuration ran.</summary>
public sealed record ConfigurationChange(DateTimeOffset At, IReadOnlyList<ConfigurationDifference> Changes, List<ConfigurationChangeUnit> Units);

/// <summary>A --resume that cannot continue (no such folder, other study, other settings): shown as a message, no stack trace.</summary>
public sealed class StudyResumeException(string message) : Exception(message);
