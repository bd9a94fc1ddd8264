namespace NativeConv.Experiments.Data;

/// <summary>
/// Finds the data dir and the files in it. The data dir is the explicit option (--data-dir) if given, else the environment
/// variable NATIVECONV_DATA, else <c>data/</c> under the current directory. A file is looked for at its relative path
/// (<c>fashion-mnist/train-images-idx3-ubyte.gz</c>, <c>cifar-10/cifar-10-binary.tar.gz</c>) and then flat in the root.
/// </summary>
public sealed class DataLocator
{
    public const string EnvironmentVariable = "NATIVECONV_DATA";
    public const string DefaultFolder = "data";

    public DataLocator(string root, string source)
    {
        Root = Path.GetFullPath(root);
        Source = source;
    }

    /// <summary>Absolute path of the data dir.</summary>
    public string Root { get; }

    /// <summary>Where the data dir came from: "--data-dir", "NATIVECONV_DATA" or "default".</summary>
    public string Source { get; }

    /// <summary>Resolves the data dir: <paramref name="explicitDir"/> ?? $NATIVECONV_DATA ?? ./data.</summary>
    public static DataLocator Resolve(string? explicitDir = null, string? environmentValue = null, string? currentDirectory = null)
    {
        environmentValue ??= Environment.GetEnvironmentVariable(EnvironmentVariable);
        string cwd = currentDirectory ?? Directory.GetCurrentDirectory();
        if (!string.IsNullOrWhiteSpace(explicitDir)) return new DataLocator(Path.Combine(cwd, explicitDir), "--data-dir");
        if (!string.IsNullOrWhiteSpace(environmentValue)) return new DataLocator(Path.Combine(cwd, environmentValue), EnvironmentVariable);
        return new DataLocator(Path.Combine(cwd, DefaultFolder), "default");
    }

    /// <summary>Where a file is stored or downloaded to: its relative path under the root.</summary>
    public string PreferredPath(DataFile file) => Path.Combine(Root, file.RelativePath.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The flat alternative: the file name directly in the root.</summary>
    public string FlatPath(DataFile file) => Path.Combine(Root, file.FileName);

    /// <summary>The existing copy of <paramref name="file"/> (nested first, then flat), or null.</summary>
    public string? Find(DataFile file)
    {
        string nested = PreferredPath(file);
        if (File.Exists(nested)) return nested;
        string flat = FlatPath(file);
        return File.Exists(flat) ? flat : null;
    }

    /// <summary>The existing copy of <paramref name="file"/>, or a <see cref="DataUnavailableException"/> saying where to put it.</summary>
    public string Require(DataFile file) => Find(file) ?? throw new DataUnavailableException(MissingMessage([file]));

    /// <summary>Tells a person which files to put where, and how to point the program elsewhere.</summary>
    public string MissingMessage(IEnumerable<DataFile> missing, string? reason = null)
    {
        var lines = new List<string>();
        lines.Add(reason is null ? "Dataset files are missing." : $"Dataset files are missing and could not be downloaded: {reason}");
        lines.Add($"Data dir: {Root} (from {Source}). Put these files there (or directly in that folder):");
        foreach (var file in missing)
            lines.Add($"  {PreferredPath(file)}    from {file.Url}");
        lines.Add($"Or point the program at a folder that holds them: --data-dir <dir> or the environment variable {EnvironmentVariable}=<dir>.");
        return string.Join(Environment.NewLine, lines);
    }
}
