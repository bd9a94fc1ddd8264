using System.Globalization;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// The folder a study writes into: runs/&lt;study&gt;-&lt;yyyyMMdd-HHmmss&gt;/ (local time), never reused. A name is claimed
/// atomically by creating its <see cref="RunLock"/> file (CreateNew), so two processes started in the same second (shards
/// of one job) never share a folder: there is no window between "does it exist?" and "create it".
/// </summary>
public static class RunDirectory
{
    /// <summary>Creates and returns a new run folder under <paramref name="root"/>; a "-2", "-3"... suffix avoids collisions.</summary>
    public static string Create(string study, string root = "runs", DateTimeOffset? now = null)
    {
        using var claimed = CreateLocked(study, root, now);
        return claimed.Folder;
    }

    /// <summary>The same, keeping the new folder's <see cref="RunLock"/> held (a study holds it for the whole run).</summary>
    public static RunLock CreateLocked(string study, string root = "runs", DateTimeOffset? now = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(study);
        foreach (char c in study)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new ArgumentException($"Study name '{study}' may hold only letters, digits, '-', '_' and '.' (it becomes a folder name).");
        string stamp = (now ?? DateTimeOffset.Now).ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string basePath = Path.Combine(root, $"{study}-{stamp}");
        string path = basePath;
        for (int n = 2; ; n++)
        {
            // An existing folder is someone's (also one from before locks existed); among racers for a new name, the one
            // whose CreateNew of the lock file succeeds owns it.
            if (!Directory.Exists(path) && !File.Exists(path) && RunLock.TryClaim(path) is { } claimed) return claimed;
            path = $"{basePath}-{n}";
        }
    }
}
