using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace NativeConv.Tests.Data;

/// <summary>Small, valid (or deliberately broken) dataset files built in memory for the parser tests.</summary>
internal static class CraftedData
{
    public static byte[] Gzip(ReadOnlySpan<byte> raw)
    {
        using var memory = new MemoryStream();
        using (var gz = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return memory.ToArray();
    }

    /// <summary>Uncompressed IDX images: header (magic, count, rows, cols) then count×rows×cols seeded pixels.</summary>
    public static byte[] IdxImages(int count, int rows = 28, int cols = 28, int seed = 1, int magic = 0x803, int? headerCount = null)
    {
        var bytes = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), headerCount ?? count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), cols);
        new Random(seed).NextBytes(bytes.AsSpan(16));
        return bytes;
    }

    /// <summary>Uncompressed IDX labels: header (magic, count) then count labels i % 10.</summary>
    public static byte[] IdxLabels(int count, int magic = 0x801, int? headerCount = null)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), headerCount ?? count);
        for (int i = 0; i < count; i++) bytes[8 + i] = (byte)(i % 10);
        return bytes;
    }

    public static readonly string[] CifarClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>One CIFAR batch: records of label (i + batch) % 10 then 3,072 seeded pixel bytes.</summary>
    public static byte[] CifarBatch(int records, int batch, int seed = 7)
    {
        var bytes = new byte[records * 3073];
        var rng = new Random(seed + batch);
        for (int r = 0; r < records; r++)
        {
            bytes[r * 3073] = (byte)((r + batch) % 10);
            rng.NextBytes(bytes.AsSpan(r * 3073 + 1, 3072));
        }
        return bytes;
    }

    /// <summary>The members of a valid cifar-10-binary tarball with <paramref name="records"/> records per batch.</summary>
    public static List<(string Name, byte[] Data)> CifarMembers(int records)
    {
        var members = new List<(string, byte[])>
        {
            ("cifar-10-batches-bin/batches.meta.txt", Encoding.ASCII.GetBytes(string.Join("\n", CifarClassNames) + "\n\n")),
        };
        for (int b = 1; b <= 5; b++) members.Add(($"cifar-10-batches-bin/data_batch_{b}.bin", CifarBatch(records, b)));
        members.Add(("cifar-10-batches-bin/test_batch.bin", CifarBatch(records, 0)));
        members.Add(("cifar-10-batches-bin/readme.html", Encoding.ASCII.GetBytes("<html>readme</html>")));
        return members;
    }

    /// <summary>An uncompressed ustar archive (with a directory entry first, like the official tarball).</summary>
    public static byte[] Tar(IEnumerable<(string Name, byte[] Data)> members, TarEntryFormat format = TarEntryFormat.Ustar)
    {
        using var memory = new MemoryStream();
        using (var writer = new TarWriter(memory, format, leaveOpen: true))
        {
            writer.WriteEntry(MakeEntry(format, TarEntryType.Directory, "cifar-10-batches-bin/"));
            foreach (var (name, data) in members)
            {
                var entry = MakeEntry(format, format == TarEntryFormat.V7 ? TarEntryType.V7RegularFile : TarEntryType.RegularFile, name);
                entry.DataStream = new MemoryStream(data);
                writer.WriteEntry(entry);
            }
        }
        return memory.ToArray();
    }

    private static TarEntry MakeEntry(TarEntryFormat format, TarEntryType type, string name) => format switch
    {
        TarEntryFormat.V7 => new V7TarEntry(type, name),
        TarEntryFormat.Ustar => new UstarTarEntry(type, name),
        TarEntryFormat.Pax => new PaxTarEntry(type, name),
        _ => new GnuTarEntry(type, name),
    };

    public static byte[] CifarTarGz(int records) => Gzip(Tar(CifarMembers(records)));

    /// <summary>A fresh temp folder, deleted by Dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nativeconv-data-tests-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string Write(string relative, byte[] bytes)
        {
            string full = System.IO.Path.Combine(Path, relative);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
            return full;
        }

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }
}
