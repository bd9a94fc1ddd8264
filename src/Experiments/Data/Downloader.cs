using System.Security.Cryptography;
using Spectre.Console;

namespace NativeConv.Experiments.Data;

/// <summary>
/// Makes sure dataset files are present and good: an existing file is verified (digest, cached by
/// <see cref="FileVerifier"/>); a missing one is downloaded from its official location with a progress bar into a
/// temporary file beside the target, hashed while it streams, and renamed into place only when a digest matches — so the
/// target path never holds a half-written or wrong file. Without network the error says which files to put where.
/// The HTTP handler is injectable so tests can serve bytes from memory.
/// </summary>
public sealed class Downloader : IDisposable
{
    private readonly HttpClient _http;
    private readonly IAnsiConsole _console;
    private readonly FileVerifier _verifier;

    /// <param name="handler">HTTP transport (null: a real one). The downloader disposes it.</param>
    /// <param name="console">Where the progress bar goes (null: the process console).</param>
    /// <param name="verifier">Digest checks and their cache (null: <see cref="FileVerifier.CreateDefault"/>).</param>
    public Downloader(HttpMessageHandler? handler = null, IAnsiConsole? console = null, FileVerifier? verifier = null)
    {
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(20) }, disposeHandler: true)
        {
            Timeout = TimeSpan.FromSeconds(60), // until the response headers; the body streams under the caller's token
        };
        _console = console ?? AnsiConsole.Console;
        _verifier = verifier ?? FileVerifier.CreateDefault();
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Returns the path of each file, verifying existing ones and downloading missing ones when
    /// <paramref name="allowDownload"/>. Throws <see cref="DataUnavailableException"/> listing every file that could not
    /// be had (with where to put it), or <see cref="DataFormatException"/> for a file whose digest does not match.
    /// </summary>
    public async Task<IReadOnlyList<string>> EnsureAllAsync(DataLocator locator, IReadOnlyList<DataFile> files,
                                                            bool allowDownload = true, CancellationToken cancellation = default)
    {
        var paths = new string[files.Count];
        var failed = new List<DataFile>();
        var reasons = new List<string>();
        for (int i = 0; i < files.Count; i++)
        {
            var file = files[i];
            string? existing = locator.Find(file);
            if (existing is not null)
            {
                _verifier.Verify(existing, file);
                paths[i] = existing;
                continue;
            }
            if (!allowDownload)
            {
                failed.Add(file);
                continue;
            }
            try
            {
                paths[i] = await DownloadAsync(file, locator.PreferredPath(file), cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (IsNetworkFailure(e, cancellation))
            {
                failed.Add(file);
                reasons.Add($"{file.Url}: {e.Message}");
            }
        }
        if (failed.Count > 0)
            throw new DataUnavailableException(locator.MissingMessage(failed,
                allowDownload ? string.Join("; ", reasons) : "downloading is switched off"));
        return paths;
    }

    /// <summary>One file: see <see cref="EnsureAllAsync"/>.</summary>
    public async Task<string> EnsureAsync(DataLocator locator, DataFile file, bool allowDownload = true,
                                          CancellationToken cancellation = default) =>
        (await EnsureAllAsync(locator, [file], allowDownload, cancellation).ConfigureAwait(false))[0];

    /// <summary>
    /// Downloads <paramref name="file"/> to <paramref name="target"/> via a temporary file in the same folder (so the final
    /// rename is atomic). A digest mismatch deletes the temporary file and throws <see cref="DataFormatException"/>.
    /// </summary>
    public async Task<string> DownloadAsync(DataFile file, string target, CancellationToken cancellation = default)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.part");
        try
        {
            using var response = await _http.GetAsync(file.Url, HttpCompletionOption.ResponseHeadersRead, cancellation).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            long expected = response.Content.Headers.ContentLength ?? file.Size;
            // A server that sends far more than the file should be cannot fill the disk.
            long limit = Math.Max(expected, file.Size) * 2 + (1 << 20);

            using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long received = 0;
            _console.MarkupLineInterpolated($"Downloading [bold]{file.FileName}[/] ({expected / 1e6:F1} MB) from {file.Url}");
            await using (var body = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false))
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                async Task Copy(Action<long> progress)
                {
                    var buffer = new byte[1 << 16];
                    int read;
                    while ((read = await body.ReadAsync(buffer, cancellation).ConfigureAwait(false)) > 0)
                    {
                        received += read;
                        if (received > limit)
                            throw new DataFormatException(file.Url.ToString(),
                                $"the server sent more than {limit:N0} bytes, expected about {expected:N0}; download aborted");
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellation).ConfigureAwait(false);
                        sha256.AppendData(buffer, 0, read);
                        md5.AppendData(buffer, 0, read);
                        progress(read);
                    }
                }

                if (_console.Profile.Capabilities.Interactive)
                {
                    await _console.Progress()
                        .AutoClear(false)
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                                 new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                        .StartAsync(async context =>
                        {
                            var task = context.AddTask(file.FileName, maxValue: Math.Max(expected, 1));
                            await Copy(read => task.Increment(read)).ConfigureAwait(false);
                            task.Value = task.MaxValue;
                        }).ConfigureAwait(false);
                }
                else
                {
                    // Logs and pipes get a line per quarter instead of a live bar.
                    long nextReport = expected / 4;
                    await Copy(_ =>
                    {
                        if (received < nextReport || expected <= 0) return;
                        _console.WriteLine($"  {file.FileName}: {received / 1e6:F1} of {expected / 1e6:F1} MB");
                        nextReport += expected / 4;
                    }).ConfigureAwait(false);
                }
                await output.FlushAsync(cancellation).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
            }

            string shaHex = FileVerifier.Hex(sha256.GetHashAndReset());
            string md5Hex = FileVerifier.Hex(md5.GetHashAndReset());
            if (!FileVerifier.Accepts(file, shaHex, md5Hex))
            {
                File.Delete(temp);
                throw new DataFormatException(file.Url.ToString(),
                    $"downloaded {received:N0} bytes with SHA-256 {shaHex} (MD5 {md5Hex}), expected SHA-256 {file.Sha256}" +
                    $"{(file.Md5 is null ? "" : $" or MD5 {file.Md5}")}; the download was deleted and {target} was not written");
            }
            File.Move(temp, target, overwrite: true);
            _verifier.Remember(target, shaHex == file.Sha256 ? shaHex : md5Hex);
            _console.MarkupLineInterpolated(
                $"  {file.FileName}: {received:N0} bytes, {(shaHex == file.Sha256 ? "SHA-256" : "MD5")} verified, saved as {target}");
            return target;
        }
        finally
        {
            try { if (File.Exists(temp)) File.Delete(temp); }
            catch (IOException) { }
        }
    }

    private static bool IsNetworkFailure(Exception e, CancellationToken cancellation) =>
        e is HttpRequestException
        || (e is TaskCanceledException or OperationCanceledException && !cancellation.IsCancellationRequested) // timeouts
        || (e is IOException && e is not FileNotFoundException);
}
