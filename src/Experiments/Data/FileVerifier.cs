using System.Security.Cryptography;
using System.Text;

namespace NativeConv.Experiments.Data;

/// <summary>
/// Checks a dataset file against its accepted digests (SHA-256, or the official MD5 where one is listed). Hashing the
/// 170 MB CIFAR tarball on every run would be wasted time, so a success is remembered in a small stamp file
/// (<c>&lt;hash of the path&gt;.sha256-ok</c>) keyed by the file's full path, size and modification time: a file that
/// is replaced or touched is hashed again. Stamps live in a per-user cache folder, not beside the data, because the data
/// dir may be read-only (a shared mount); without a writable stamp folder every check simply hashes.
/// </summary>
public sealed class FileVerifier
{
    /// <param name="stampDirectory">Where stamps are kept; null disables the cache.</param>
    public FileVerifier(string? stampDirectory)
    {
        StampDirectory = stampDirectory;
    }

    public string? StampDirectory { get; }

    /// <summary>$XDG_CACHE_HOME/nativeconv/verified, or ~/.cache/nativeconv/verified.</summary>
    public static FileVerifier CreateDefault()
    {
        string? cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(cache))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            cache = string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache");
        }
        return new FileVerifier(cache is null ? null : Path.Combine(cache, "nativeconv", "verified"));
    }

    /// <summary>
    /// Throws <see cref="DataFormatException"/> when the file at <paramref name="path"/> matches none of the accepted
    /// digests of <paramref name="file"/>. Returns true when a valid stamp spared the hashing.
    /// </summary>
    public bool Verify(string path, DataFile file)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: dataset file not found.", path);
        if (StampIsValid(info, file)) return true;

        string sha256, md5 = "";
        using (var stream = OpenSequential(path)) sha256 = Hex(SHA256.HashData(stream));
        bool ok = sha256 == file.Sha256;
        if (!ok && file.Md5 is not null)
        {
            using var stream = OpenSequential(path);
            md5 = Hex(MD5.HashData(stream));
            ok = md5 == file.Md5;
        }
        if (!ok)
            throw new DataFormatException(path,
                $"digest mismatch: expected SHA-256 {file.Sha256}{(file.Md5 is null ? "" : $" or MD5 {file.Md5}")}, found SHA-256 {sha256}" +
                $"{(md5.Length > 0 ? $" and MD5 {md5}" : "")} ({info.Length:N0} bytes). The file is damaged or a different version: delete it to download it again.");
        WriteStamp(info, sha256 == file.Sha256 ? sha256 : md5);
        return false;
    }

    /// <summary>True when the digests match one accepted by <paramref name="file"/>.</summary>
    public static bool Accepts(DataFile file, string sha256Hex, string md5Hex) =>
        sha256Hex == file.Sha256 || (file.Md5 is not null && md5Hex == file.Md5);

    /// <summary>Records that <paramref name="path"/> was verified with <paramref name="digest"/> (e.g. right after a download).</summary>
    public void Remember(string path, string digest) => WriteStamp(new FileInfo(path), digest);

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    private static FileStream OpenSequential(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);

    private string? StampPath(FileInfo info)
    {
        if (StampDirectory is null) return null;
        string key = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(info.FullName)))[..32];
        return Path.Combine(StampDirectory, key + ".sha256-ok");
    }

    private static string StampText(FileInfo info, string digest) =>
        $"{info.FullName}\n{info.Length}\n{info.LastWriteTimeUtc.Ticks}\n{digest}\n";

    private bool StampIsValid(FileInfo info, DataFile file)
    {
        string? stamp = StampPath(info);
        if (stamp is null || !File.Exists(stamp)) return false;
        try
        {
            string text = File.ReadAllText(stamp);
            return text == StampText(info, file.Sha256) || (file.Md5 is not null && text == StampText(info, file.Md5));
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private void WriteStamp(FileInfo info, string digest)
    {
        string? stamp = StampPath(info);
        if (stamp is null) return;
        try
        {
            info.Refresh();
            Directory.CreateDirectory(StampDirectory!);
            string temp = stamp + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllText(temp, StampText(info, digest));
            File.Move(temp, stamp, overwrite: true);
        }
        catch (IOException) { /* no cache: the next run hashes again */ }
        catch (UnauthorizedAccessException) { }
    }
}
