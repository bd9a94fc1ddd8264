using System.Buffers.Binary;
using NativeConv.Experiments.Data;
using static NativeConv.Tests.Data.CraftedData;

namespace NativeConv.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private DataFormatException ImagesFail(byte[] raw, int? expectedCount = null, bool compress = true)
    {
        string path = _dir.Write("images-idx3-ubyte.gz", compress ? Gzip(raw) : raw);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path, expectedCount));
        Assert.Contains(path, e.Message); // every message names the file
        return e;
    }

    private DataFormatException LabelsFail(byte[] raw, int? expectedCount = null)
    {
        string path = _dir.Write("labels-idx1-ubyte.gz", Gzip(raw));
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path, expectedCount));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void ValidFilesRoundTrip()
    {
        byte[] raw = IdxImages(20);
        string images = _dir.Write("i.gz", Gzip(raw));
        string labels = _dir.Write("l.gz", Gzip(IdxLabels(20)));
        var read = IdxReader.ReadImages(images, expectedCount: 20);
        Assert.Equal((20, 28, 28), (read.Count, read.Rows, read.Cols));
        Assert.Equal(raw.AsSpan(16).ToArray(), read.Pixels);
        Assert.Equal(IdxLabels(20).AsSpan(8).ToArray(), IdxReader.ReadLabels(labels, 20));

        var set = FashionMnist.LoadSplit(images, labels, 20, "crafted");
        Assert.Equal((1, 28, 28), set.Shape);
        Assert.Equal(20, set.Count);
        for (int i = 0; i < raw.Length - 16; i++) Assert.Equal(raw[16 + i] / 255f, set.Images[i]);
    }

    [Fact]
    public void WrongMagicNamesExpectedAndFound()
    {
        var e = ImagesFail(IdxImages(3, magic: 0x12345678));
        Assert.Contains("0x00000803", e.Message);
        Assert.Contains("0x12345678", e.Message);
    }

    [Fact]
    public void LabelsFileGivenAsImagesIsNamedAsSuch()
    {
        var e = ImagesFail(IdxLabels(3));
        Assert.Contains("labels file", e.Message);
    }

    [Fact]
    public void WrongRankIsReported()
    {
        var e = ImagesFail(IdxImages(3, magic: 0x804));
        Assert.Contains("4 dimensions", e.Message);
        var l = LabelsFail(IdxLabels(3, magic: 0x802));
        Assert.Contains("2 dimensions", l.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(9)]
    [InlineData(15)]
    public void TruncatedHeader(int length)
    {
        var e = ImagesFail(IdxImages(3).AsSpan(0, length).ToArray());
        Assert.Contains("truncated header", e.Message);
    }

    [Fact]
    public void TruncatedPixels()
    {
        var e = ImagesFail(IdxImages(5).AsSpan(0, 16 + 4 * 784 + 100).ToArray());
        Assert.Contains("truncated", e.Message);
        Assert.Contains("3,920", e.Message); // 5 × 28 × 28 promised
    }

    [Fact]
    public void CountLargerThanTheData()
    {
        var e = ImagesFail(IdxImages(5, headerCount: 6));
        Assert.Contains("truncated", e.Message);
        var l = LabelsFail(IdxLabels(5, headerCount: 9));
        Assert.Contains("truncated", l.Message);
    }

    [Fact]
    public void TrailingGarbage()
    {
        byte[] raw = [.. IdxImages(2), 1, 2, 3];
        Assert.Contains("trailing", ImagesFail(raw).Message);
        byte[] labels = [.. IdxLabels(4), 0];
        Assert.Contains("trailing", LabelsFail(labels).Message);
    }

    [Fact]
    public void DimensionsThatOverflowInt32AreRejectedBeforeAllocating()
    {
        byte[] raw = IdxImages(1);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), 60_000);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(8), 100_000);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(12), 100_000);
        Assert.Contains("overflow", ImagesFail(raw).Message);

        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), -1);
        Assert.Contains("positive", ImagesFail(raw).Message);
    }

    [Fact]
    public void HostileCountWithinIntIsCappedByTheExpectedSizes()
    {
        // 2,000,000 × 28 × 28 fits an int32 product but is far beyond any known split: refused, not allocated.
        var e = ImagesFail(IdxImages(1, headerCount: 2_000_000));
        Assert.Contains("at most 60,000", e.Message);
        var expected = ImagesFail(IdxImages(3), expectedCount: 60_000);
        Assert.Contains("expected 60,000 images", expected.Message);
    }

    [Fact]
    public void WrongImageSize()
    {
        var e = ImagesFail(IdxImages(2, rows: 32, cols: 32));
        Assert.Contains("expected 28×28", e.Message);
        Assert.Contains("32×32", e.Message);
    }

    [Fact]
    public void LabelOutOfRange()
    {
        byte[] raw = IdxLabels(12);
        raw[8 + 7] = 10;
        var e = LabelsFail(raw);
        Assert.Contains("label 7 is 10", e.Message);
        Assert.Contains("0..9", e.Message);
    }

    [Fact]
    public void LabelCountDifferentFromImageCountNamesBothFiles()
    {
        string images = _dir.Write("i.gz", Gzip(IdxImages(20)));
        string labels = _dir.Write("l.gz", Gzip(IdxLabels(19)));
        var e = Assert.Throws<DataFormatException>(() => FashionMnist.LoadSplit(images, labels, expectedCount: null, "crafted"));
        Assert.Contains(images, e.Message);
        Assert.Contains(labels, e.Message);
        Assert.Contains("19", e.Message);
    }

    [Fact]
    public void NonGzipFileIsWrapped()
    {
        var e = ImagesFail(IdxImages(2), compress: false);
        Assert.Contains("gzip", e.Message);
        Assert.NotNull(e.InnerException);
    }

    [Fact]
    public void CorruptGzipIsWrapped()
    {
        byte[] gz = Gzip(IdxImages(4));
        gz[gz.Length / 2] ^= 0x5A;
        string path = _dir.Write("flipped.gz", gz);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void TruncatedGzipIsRejected()
    {
        byte[] gz = Gzip(IdxImages(4));
        string path = _dir.Write("cut.gz", gz.AsSpan(0, gz.Length - 5).ToArray());
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void CorruptCrcIsRejected()
    {
        byte[] gz = Gzip(IdxLabels(30));
        gz[gz.Length - 6] ^= 0x01; // inside the CRC-32 field of the trailer
        string path = _dir.Write("crc.gz", gz);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
    }
}
