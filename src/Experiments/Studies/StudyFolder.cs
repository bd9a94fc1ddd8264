using System.Text.Json;
using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// The folder of one study run, and what makes it resumable: study.json (the settings that decide the numbers) and, per
/// model and seed, models/&lt;model&gt;-seed&lt;seed&gt;/ with the trainer's checkpoint (written every epoch and on Ctrl-C)
/// and result.json (written once the model is trained and tested: such a model is never retrained on --resume).
/// </summary>
public sealed class StudyFolder
{
    public const string SettingsFileName = "study.json";
    public const string CheckpointFileName = "checkpoint.safetensors";
    public const string ResultFileName = "result.json";
    public const string Latest = "latest";

    /// <summary>The study.json key of the models a run trains (comma-separated, study order); absent in runs made before --models.</summary>
    public const string ModelsKey = "models";

    private StudyFolder(string path) => Path = System.IO.Path.GetFullPath(path);

    public string Path { get; }

    /// <summary>A new run folder runs/&lt;study&gt;-&lt;timestamp&gt;/ holding the study's settings.</summary>
    public static StudyFolder Create(string study, string root, IReadOnlyList<(string Key, string Value)> settings)
    {
        var folder = new StudyFolder(RunDirectory.Create(study, root));
        var document = new Dictionary<string, string> { ["study"] = study };
        foreach (var (key, value) in settings) document[key] = value;
        AtomicFile.WriteAllText(folder.SettingsPath, JsonSerializer.Serialize(document, ResultsJson.SerializerOptions) + "\n");
        return folder;
    }

    /// <summary>
    /// The folder to resume: <paramref name="resume"/> itself, or with "latest" the newest &lt;study&gt;-* folder under
    /// <paramref name="root"/> that has a study.json. Throws <see cref="StudyResumeException"/> saying what is wrong.
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
        return folder;
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
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(SettingsPath), ResultsJson.SerializerOptions)
        ?? throw new StudyResumeException($"--resume: {SettingsPath} is empty.");

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
    /// Checks that <paramref name="settings"/> match the saved ones (the thread count may differ: the run stays correct but is
    /// no longer bit-identical, which the trainer notes). Throws <see cref="StudyResumeException"/> listing the differences.
    /// </summary>
    public void CheckSettings(IReadOnlyList<(string Key, string Value)> settings)
    {
        var saved = ReadSettings();
        var differences = new List<string>();
        foreach (var (key, value) in settings)
        {
            if (key is "threads" or "device") continue;
            if (saved.TryGetValue(key, out var was) && was != value) differences.Add($"{key} {was} → {value}");
        }
        if (differences.Count > 0)
            throw new StudyResumeException($"--resume: {Path} was made with other settings ({string.Join(", ", differences)}). Resume with the original settings, or start a new run without --resume.");
    }

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
        return JsonSerializer.Deserialize<ModelResult>(File.ReadAllText(path), ResultsJson.SerializerOptions)
            ?? throw new StudyResumeException($"--resume: {path} is empty; delete it to retrain that model.");
    }

    public void WriteResult(string model, int seed, ModelResult result) =>
        AtomicFile.WriteAllText(System.IO.Path.Combine(ModelFolder(model, seed), ResultFileName),
            JsonSerializer.Serialize(result, ResultsJson.SerializerOptions) + "\n");
}

/// <summary>A --resume that cannot continue (no such folder, other study, other settings): shown as a message, no stack trace.</summary>
public sealed class StudyResumeException(string message) : Exception(message);
