using System.Net;
using System.Security.Cryptography;
using NativeConv.Experiments.Data;
using Spectre.Console;
using static NativeConv.Tests.Data.CraftedData;

namespace NativeConv.Tests.Data;

/// <summary>The download path against an in-memory HTTP handler: no network needed.</summary>
public sealed class DownloaderTests : IDisposable
{
    private static readonly byte[] Good = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
    private readonly TempDir _dir = new();
    private readonly TempDir _stamps = new();
    private readonly StringWriter _consoleText = new();

    public void Dispose()
    {
        _dir.Dispose();
        _stamps.Dispose();
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));

    private static DataFile FileFor(byte[] bytes, string? md5 = null, string name = "set/good.bin") =>
        new(name, new Uri("http://example.test/" + Path.GetFileName(name)), bytes.Length, Sha(bytes), md5);

    /// <summary>Serves fixed bytes; optionally fails before the headers or part-way through the body.</summary>
    private sealed class FakeHandler(byte[] body, bool failConnect = false, int failAfter = -1) : HttpMessageHandler
    {
        public int Requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            if (failConnect) throw new HttpRequestException("Name or service not known (example.test:80)");
            Stream stream = failAfter < 0 ? new MemoryStream(body) : new BreakingStream(body, failAfter);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(stream) };
            response.Content.Headers.ContentLength = body.Length;
            return Task.FromResult(response);
        }
    }

    /// <summary>Serves the first <c>failAfter</c> bytes, then fails like a dropped connection.</summary>
    private sealed class BreakingStream(byte[] body, int failAfter) : Stream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAfter) throw new IOException("Connection reset by peer");
            int n = Math.Min(count, Math.Min(failAfter, body.Length) - _position);
            Array.Copy(body, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private Downloader Make(HttpMessageHandler handler) =>
        new(handler,
            AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(_consoleText), Interactive = InteractionSupport.No, Ansi = AnsiSupport.No,
            }),
            new FileVerifier(_stamps.Path));

    private string[] FilesLeft() => Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories);

    [Fact]
    public async Task GoodBytesLandAtThePreferredPath()
    {
        var file = FileFor(Good);
        var locator = new DataLocator(_dir.Path, "test");
        var handler = new FakeHandler(Good);
        using var downloader = Make(handler);

        string path = await downloader.EnsureAsync(locator, file);
        Assert.Equal(locator.PreferredPath(file), path);
        Assert.Equal(Good, File.ReadAllBytes(path));
        Assert.Equal([path], FilesLeft()); // no temporary file left behind
        Assert.Contains("good.bin", _consoleText.ToString()); // the progress display names the file
        Assert.Contains("SHA-256 verified", _consoleText.ToString());
        Assert.Single(Directory.GetFiles(_stamps.Path, "*.sha256-ok")); // verified on arrival

        // Present now: verified (from the stamp), not downloaded again.
        Assert.Equal(path, await downloader.EnsureAsync(locator, file));
        Assert.Equal(1, handler.Requests);
    }

    [Fact]
    public async Task OfficialMd5IsAcceptedToo()
    {
        var file = FileFor(Good, md5: Md5(Good)) with { Sha256 = new string('0', 64) };
        using var downloader = Make(new FakeHandler(Good));
        string path = await downloader.EnsureAsync(new DataLocator(_dir.Path, "test"), file);
        Assert.Equal(Good, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task BadBytesAreRejectedAndNothingIsLeft()
    {
        byte[] bad = (byte[])Good.Clone();
        bad[12_345] ^= 1;
        var file = FileFor(Good, md5: Md5(Good));
        var locator = new DataLocator(_dir.Path, "test");
        using var downloader = Make(new FakeHandler(bad));

        var e = await Assert.ThrowsAsync<DataFormatException>(() => downloader.EnsureAsync(locator, file));
        Assert.Contains(Sha(bad), e.Message);
        Assert.Contains(file.Sha256, e.Message);
        Assert.Contains("deleted", e.Message);
        Assert.Empty(FilesLeft());
        Assert.False(File.Exists(locator.PreferredPath(file)));
    }

    [Fact]
    public async Task BrokenConnectionLeavesNoHalfWrittenFile()
    {
        var file = FileFor(Good);
        var locator = new DataLocator(_dir.Path, "test");
        using var downloader = Make(new FakeHandler(Good, failAfter: 100_000));

        var e = await Assert.ThrowsAsync<DataUnavailableException>(() => downloader.EnsureAsync(locator, file));
        Assert.Contains("Connection reset", e.Message);
        Assert.Empty(FilesLeft());
    }

    [Fact]
    public async Task WithoutNetworkTheMessageSaysWhatToPutWhere()
    {
        var files = new[] { FileFor(Good, name: "a/one.gz"), FileFor(Good, name: "b/two.gz") };
        var locator = new DataLocator(_dir.Path, "NATIVECONV_DATA");
        using var downloader = Make(new FakeHandler(Good, failConnect: true));

        var e = await Assert.ThrowsAsync<DataUnavailableException>(() => downloader.EnsureAllAsync(locator, files));
        Assert.Contains(Path.Combine(_dir.Path, "a", "one.gz"), e.Message);
        Assert.Contains(Path.Combine(_dir.Path, "b", "two.gz"), e.Message);
        Assert.Contains("http://example.test/one.gz", e.Message);
        Assert.Contains("--data-dir", e.Message);
        Assert.Contains("NATIVECONV_DATA", e.Message);
        Assert.Contains("Name or service not known", e.Message);
        Assert.Empty(FilesLeft());

        var off = await Assert.ThrowsAsync<DataUnavailableException>(() => downloader.EnsureAllAsync(locator, files, allowDownload: false));
        Assert.Contains("switched off", off.Message);
    }

    [Fact]
    public async Task ExistingFilesAreVerifiedAndTheVerdictCachedBySizeAndTime()
    {
        var file = FileFor(Good);
        var locator = new DataLocator(_dir.Path, "test");
        string path = _dir.Write(file.RelativePath, Good);
        var verifier = new FileVerifier(_stamps.Path);

        Assert.False(verifier.Verify(path, file)); // hashed
        Assert.True(verifier.Verify(path, file));  // stamp

        // Same size and modification time: the stamp is trusted (that is the point of the cache)...
        var time = File.GetLastWriteTimeUtc(path);
        byte[] changed = (byte[])Good.Clone();
        changed[0] ^= 1;
        File.WriteAllBytes(path, changed);
        File.SetLastWriteTimeUtc(path, time);
        Assert.True(verifier.Verify(path, file));

        // ...a touched file is hashed again, and a damaged one is refused with both digests named.
        File.SetLastWriteTimeUtc(path, time.AddSeconds(5));
        var e = Assert.Throws<DataFormatException>(() => verifier.Verify(path, file));
        Assert.Contains(path, e.Message);
        Assert.Contains(Sha(changed), e.Message);
        Assert.Contains(file.Sha256, e.Message);

        using var downloader = Make(new FakeHandler(Good));
        await Assert.ThrowsAsync<DataFormatException>(() => downloader.EnsureAsync(locator, file)); // not silently replaced
        Assert.Equal(changed, File.ReadAllBytes(path));
    }

    [Fact]
    public void WithoutAStampFolderEveryCheckHashes()
    {
        var file = FileFor(Good);
        string path = _dir.Write("x.bin", Good);
        var verifier = new FileVerifier(null);
        Assert.False(verifier.Verify(path, file));
        Assert.False(verifier.Verify(path, file));
    }
}
