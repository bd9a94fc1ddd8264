using System.Globalization;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// The OS lock that one process holds on a run folder for as long as it writes into it: `&lt;folder&gt;/.lock`, opened
/// exclusively (on Linux and macOS .NET takes flock(LOCK_EX) on it; on Windows the file is not shareable). The kernel drops
/// the lock when the process ends in any way — exit, crash, kill -9 — so a stale lock never blocks a resume, while a
/// `--resume` of a run that is still going, or a second shard started on the same folder, is refused with the holder's host
/// and PID (recorded beside the lock in `.lock.owner`, since the lock file itself cannot be read while it is held).
/// Creating a `.lock` with CreateNew also claims a fresh run folder atomically (<see cref="RunDirectory.Create"/>).
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = ".lock";
    public const string OwnerFileName = ".lock.owner";

    private readonly FileStream _stream;

    private RunLock(string folder, FileStream stream)
    {
        Folder = folder;
        _stream = stream;
        AtomicFile.WriteAllText(Path.Combine(folder, OwnerFileName),
            $"host {Environment.MachineName}, PID {Environment.ProcessId}, since {DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)}\n");
    }

    /// <summary>The locked folder (full path).</summary>
    public string Folder { get; }

    /// <summary>Takes the lock of an existing folder, or throws <see cref="RunLockedException"/> naming who holds it.</summary>
    public static RunLock Acquire(string folder)
    {
        folder = Path.GetFullPath(folder);
        try
        {
            return new RunLock(folder, Open(folder, FileMode.OpenOrCreate));
        }
        catch (IOException) when (File.Exists(Path.Combine(folder, FileName)))
        {
            throw new RunLockedException(folder, Holder(folder));
        }
    }

    /// <summary>
    /// Claims a folder that nobody has claimed yet: creates its `.lock` (CreateNew) and holds it. Null when another process
    /// (or an earlier run) created the lock file first: the caller then takes another name.
    /// </summary>
    public static RunLock? TryClaim(string folder)
    {
        folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(folder);
        try
        {
            return new RunLock(folder, Open(folder, FileMode.CreateNew));
        }
        catch (IOException) when (File.Exists(Path.Combine(folder, FileName)))
        {
            return null;
        }
    }

    private static FileStream Open(string folder, FileMode mode) =>
        new(Path.Combine(folder, FileName), mode, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);

    private static string Holder(string folder)
    {
        try
        {
            string owner = File.ReadAllText(Path.Combine(folder, OwnerFileName)).Trim();
            return owner.Length > 0 ? owner : "another process (it recorded no owner)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "another process (it recorded no owner)";
        }
    }

    /// <summary>Releases the lock (the owner note goes with it; the lock file stays, harmless: only the OS lock counts).</summary>
    public void Dispose()
    {
        try { File.Delete(Path.Combine(Folder, OwnerFileName)); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        _stream.Dispose();
    }
}

/// <summary>A run folder another live process is writing into: shown as a message naming the holder, exit 1.</summary>
public sealed class RunLockedException(string folder, string holder)
    : Exception($"{folder} is in use by {holder}. Wait for that run to finish (or stop it) before resuming it or starting another shard on it; " +
                "a run that crashed or was killed releases it by itself.")
{
    public string Folder { get; } = folder;
}
