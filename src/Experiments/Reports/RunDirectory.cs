using System.Globalization;

namespace NativeConv.Experiments.Reports;

/// <summary>The folder a study writes into: runs/&lt;study&gt;-&lt;yyyyMMdd-HHmmss&gt;/ (local time), never reused.</summary>
public static class RunDirectory
{
    /// <summary>Creates and returns a new run folder under <paramref name="root"/>; a "-2", "-3"... suffix avoids collisions.</summary>
    public static string Create(string study, string root = "runs", DateTimeOffset? now = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(study);
        foreach (char c in study)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new ArgumentException($"Study name '{study}' may hold only letters, digits, '-', '_' and '.' (it becomes a folder name).");
        string stamp = (now ?? DateTimeOffset.Now).ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string basePath = Path.Combine(root, $"{study}-{stamp}");
        string path = basePath;
        for (int n = 2; Directory.Exists(path) || File.Exists(path); n++) path = $"{basePath}-{n}";
        Directory.CreateDirectory(path);
        return path;
    }
}
