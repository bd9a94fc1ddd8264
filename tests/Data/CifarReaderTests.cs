using System.Formats.Tar;
using System.Text;
using NativeConv.Experiments.Data;
using static NativeConv.Tests.Data.CraftedData;

namespace NativeConv.Tests.Data;

public sealed class CifarReaderTests : IDisposable
{
    private const int Records = 3;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private DataFormatException Fails(byte[] tarGz, int records = Records)
    {
        string path = _dir.Write("cifar-10-binary.tar.gz", tarGz);
        var e = Assert.Throws<DataFormatException>(() => CifarReader.Read(path, records));
        Assert.Contains(path, e.Message); // every message names the tarball
        return e;
    }

    [Fact]
    public void ValidTarballReadsEveryBatchInPlace()
    {
        var members = CifarMembers(Records);
        members.Reverse(); // lookup is by name, not by order
        string path = _dir.Write("c.tar.gz", Gzip(Tar(members)));
        var (train, test) = CifarReader.Read(path, Records);

        Assert.Equal(CifarClassNames, train.ClassNames);
        Assert.Equal((3, 32, 32), train.Shape);
        Assert.Equal(5 * Records, train.Count);
        Assert.Equal(Records, test.Count);
        for (int b = 1; b <= 5; b++)
        {
            byte[] batch = CifarBatch(Records, b);
            for (int r = 0; r < Records; r++)
            {
                int index = (b - 1) * Records + r;
                Assert.Equal(batch[r * 3073], train.Labels[index]);
                var image = train.Image(index);
                // Red plane first, then green, then blue: the record's bytes in order.
                for (int k = 0; k < 3072; k += 97) Assert.Equal(batch[r * 3073 + 1 + k] / 255f, image[k]);
            }
        }
        Assert.Equal(CifarBatch(Records, 0)[3073], test.Labels[1]);
    }

    [Theory]
    [InlineData(TarEntryFormat.V7)]
    [InlineData(TarEntryFormat.Ustar)]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    public void EveryCommonTarFlavourReads(TarEntryFormat format)
    {
        var members = CifarMembers(Records);
        // A name longer than 100 bytes: ustar splits it into prefix + name, GNU writes an 'L' record, pax an 'x' header.
        if (format != TarEntryFormat.V7)
            members[3] = ("cifar-10-batches-bin/" + new string('d', 90) + "/data_batch_3.bin", members[3].Data);
        var (train, test) = CifarReader.Read(new MemoryStream(Gzip(Tar(members, format))), "mem.tar.gz", Records);
        Assert.Equal(5 * Records, train.Count);
        byte[] batch3 = CifarBatch(Records, 3); // the renamed member still lands in slot 3
        Assert.Equal(batch3[0], train.Labels[2 * Records]);
        Assert.Equal(batch3[1] / 255f, train.Image(2 * Records)[0]);
        Assert.Equal(Records, test.Count);
    }

    [Fact]
    public void BlankLinesInMetaAreIgnoredAndCrLfTrimmed()
    {
        var members = CifarMembers(Records);
        members[0] = (members[0].Name, Encoding.ASCII.GetBytes("\n" + string.Join("\r\n\r\n", CifarClassNames) + "\r\n"));
        var (train, _) = CifarReader.Read(new MemoryStream(Gzip(Tar(members))), "mem.tar.gz", Records);
        Assert.Equal(CifarClassNames, train.ClassNames);
    }

    [Theory]
    [InlineData("data_batch_3.bin")]
    [InlineData("test_batch.bin")]
    [InlineData("batches.meta.txt")]
    public void MissingMemberNamesTarballAndMember(string member)
    {
        var members = CifarMembers(Records).Where(m => !m.Name.EndsWith(member, StringComparison.Ordinal)).ToList();
        var e = Fails(Gzip(Tar(members)));
        Assert.Contains(member, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void NameMustMatchWholeComponent()
    {
        var members = CifarMembers(Records);
        members[1] = ("cifar-10-batches-bin/old_data_batch_1.bin", members[1].Data);
        Assert.Contains("data_batch_1.bin not found", Fails(Gzip(Tar(members))).Message);
    }

    [Fact]
    public void BatchOfWrongSize()
    {
        var members = CifarMembers(Records);
        members[2] = (members[2].Name, members[2].Data.AsSpan(0, members[2].Data.Length - 1).ToArray());
        var e = Fails(Gzip(Tar(members)));
        Assert.Contains("data_batch_2.bin", e.Message);
        Assert.Contains($"{Records * 3073 - 1:N0}", e.Message);
        Assert.Contains($"expected {Records * 3073:N0}", e.Message);
    }

    [Fact]
    public void OfficialSizeIsTheDefault()
    {
        // Crafted 3-record batches are refused by the default reader, which expects 10,000 × 3,073 bytes per batch.
        string path = _dir.Write("small.tar.gz", CifarTarGz(Records));
        var e = Assert.Throws<DataFormatException>(() => CifarReader.Read(path));
        Assert.Contains("30,730,000", e.Message);
    }

    [Fact]
    public void LabelOutOfRange()
    {
        var members = CifarMembers(Records);
        members[6].Data[2 * 3073] = 10; // test batch, record 2
        var e = Fails(Gzip(Tar(members)));
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("record 2", e.Message);
        Assert.Contains("label 10", e.Message);
    }

    [Fact]
    public void DuplicateMember()
    {
        var members = CifarMembers(Records);
        members.Add(members[3]);
        Assert.Contains("twice", Fails(Gzip(Tar(members))).Message);
    }

    [Fact]
    public void WrongNumberOfClassNames()
    {
        var members = CifarMembers(Records);
        members[0] = (members[0].Name, Encoding.ASCII.GetBytes("cat\ndog\n"));
        Assert.Contains("2 class names, expected 10", Fails(Gzip(Tar(members))).Message);
    }

    [Fact]
    public void TruncatedTar()
    {
        byte[] tar = Tar(CifarMembers(Records));
        Assert.Contains("truncated", Fails(Gzip(tar.AsSpan(0, tar.Length / 2).ToArray())).Message);
        Assert.Contains("truncated", Fails(Gzip(tar.AsSpan(0, 512 * 3 + 100).ToArray())).Message);
    }

    [Fact]
    public void CorruptHeaderChecksum()
    {
        byte[] tar = Tar(CifarMembers(Records));
        tar[512 + 10] ^= 0x20; // a name byte of the second header
        Assert.Contains("checksum", Fails(Gzip(tar)).Message);
    }

    [Fact]
    public void NonGzipFile()
    {
        var e = Fails(Tar(CifarMembers(Records)));
        Assert.Contains("gzip", e.Message);
    }

    [Fact]
    public void EmptyArchive()
    {
        Assert.Contains("not found", Fails(Gzip(new byte[1024])).Message);
        Assert.Contains("gzip", Fails([]).Message); // a 0-byte file
    }
}
