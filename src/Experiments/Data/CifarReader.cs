using System.Text;

namespace NativeConv.Experiments.Data;

/// <summary>
/// Strict reader for <c>cifar-10-binary.tar.gz</c>, straight from the tarball (gzip → ustar, parsed here so that a corrupt
/// archive can only ever produce a <see cref="DataFormatException"/>). Members are looked up by NAME — the last path
/// component <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c>, <c>test_batch.bin</c>, <c>batches.meta.txt</c> — so the
/// official tarball (with readme.html, other order) and the repackaged one read alike; other members are skipped.
/// Each batch must hold exactly <c>recordsPerBatch</c> × 3,073 bytes: a label 0–9, then 1,024 red, 1,024 green and 1,024
/// blue bytes (32×32 planes, row-major) — already CHW, so a record converts to floats in place.
/// </summary>
public static class CifarReader
{
    public const int Channels = 3, Height = 32, Width = 32;
    public const int PixelsPerImage = Channels * Height * Width; // 3,072
    public const int RecordBytes = 1 + PixelsPerImage;           // 3,073
    public const int OfficialRecordsPerBatch = 10_000;
    public const int TrainBatches = 5;
    public const int ClassCount = 10;

    private const string MetaName = "batches.meta.txt";
    private const string TestName = "test_batch.bin";
    private const int MaxMetaBytes = 4096;
    private const int MaxPaxBytes = 64 * 1024;
    private const int BlockSize = 512;

    public static (Dataset Train, Dataset Test) Read(string tarGzPath, int recordsPerBatch = OfficialRecordsPerBatch)
    {
        using var file = File.OpenRead(tarGzPath);
        return Read(file, tarGzPath, recordsPerBatch);
    }

    /// <param name="compressed">The gzip-compressed tarball.</param>
    /// <param name="fileName">Named in every error message.</param>
    /// <param name="recordsPerBatch">Records each batch member must hold (10,000 officially; smaller for crafted test files).</param>
    public static (Dataset Train, Dataset Test) Read(Stream compressed, string fileName, int recordsPerBatch = OfficialRecordsPerBatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(recordsPerBatch);
        long batchBytes = (long)recordsPerBatch * RecordBytes;
        if ((long)TrainBatches * recordsPerBatch * PixelsPerImage > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(recordsPerBatch), "Too many records per batch for one array.");

        // Allocated when the first batch member shows up, so a wrong file fails before 700+ MB are committed.
        float[]? trainImages = null, testImages = null;
        byte[]? trainLabels = null, testLabels = null;
        var seen = new bool[TrainBatches + 1]; // data_batch_1..5, then test_batch
        string[]? classNames = null;

        using var gz = new StrictGzipReader(compressed, fileName);
        var header = new byte[BlockSize];
        var recordBuffer = new byte[RecordBytes * 64];
        long offset = 0;          // offset of the current header in the uncompressed tar stream
        string? longName = null;  // a GNU 'L' long name applies to the member after it
        bool sawEnd = false;

        while (true)
        {
            int read = gz.ReadUpTo(header);
            if (read == 0) break; // end of stream without the end-of-archive blocks: tolerated, members are checked below
            if (read < BlockSize)
                throw new DataFormatException(fileName, $"truncated tar: header block at byte {offset:N0} has {read} of {BlockSize} bytes");
            if (header.AsSpan().IndexOfAnyExcept((byte)0) < 0) { sawEnd = true; break; }

            var entry = ParseHeader(header, fileName, offset);
            string name = longName ?? entry.Name;
            longName = null;
            offset += BlockSize;
            long padded = (entry.Size + BlockSize - 1) / BlockSize * BlockSize;

            if (entry.Type == 'L')
            {
                if (entry.Size > MaxMetaBytes)
                    throw new DataFormatException(fileName, $"tar long-name record at byte {offset - BlockSize:N0} is {entry.Size:N0} bytes, expected at most {MaxMetaBytes}");
                var nameBytes = ReadMember(gz, name, (int)entry.Size);
                longName = Encoding.UTF8.GetString(nameBytes).TrimEnd('\0');
            }
            else if (entry.Type == 'x')
            {
                // A pax extended header: its "path" record names the next member (long names live only there).
                if (entry.Size > MaxPaxBytes)
                    throw new DataFormatException(fileName, $"pax header at byte {offset - BlockSize:N0} is {entry.Size:N0} bytes, expected at most {MaxPaxBytes:N0}");
                longName = PaxPath(ReadMember(gz, name, (int)entry.Size), fileName, offset - BlockSize);
            }
            else if (entry.Type is '0' or '\0' && Slot(name) is int slot)
            {
                if (seen[slot])
                    throw new DataFormatException(fileName, $"member {name} appears twice; expected each batch once");
                if (entry.Size != batchBytes)
                    throw new DataFormatException(fileName,
                        $"member {name} is {entry.Size:N0} bytes, expected {batchBytes:N0} ({recordsPerBatch:N0} records × {RecordBytes:N0} bytes)");
                seen[slot] = true;
                bool isTest = slot == TrainBatches;
                if (isTest)
                {
                    testImages ??= new float[(long)recordsPerBatch * PixelsPerImage];
                    testLabels ??= new byte[recordsPerBatch];
                }
                else
                {
                    trainImages ??= new float[(long)TrainBatches * recordsPerBatch * PixelsPerImage];
                    trainLabels ??= new byte[TrainBatches * recordsPerBatch];
                }
                ReadBatch(gz, name, recordsPerBatch, recordBuffer,
                          isTest ? testImages : trainImages.AsSpan(slot * recordsPerBatch * PixelsPerImage, recordsPerBatch * PixelsPerImage),
                          isTest ? testLabels : trainLabels.AsSpan(slot * recordsPerBatch, recordsPerBatch));
            }
            else if (entry.Type is '0' or '\0' && LastComponent(name) == MetaName)
            {
                if (classNames is not null)
                    throw new DataFormatException(fileName, $"member {name} appears twice");
                if (entry.Size > MaxMetaBytes)
                    throw new DataFormatException(fileName, $"member {name} is {entry.Size:N0} bytes, expected a short list of class names (≤ {MaxMetaBytes} bytes)");
                classNames = ParseClassNames(ReadMember(gz, name, (int)entry.Size), fileName, name);
            }
            else
            {
                SkipExactly(gz, name, entry.Size);
            }
            SkipExactly(gz, name, padded - entry.Size);
            offset += padded;
        }

        // Let the gzip layer reach its trailer (CRC and length check) after the end-of-archive blocks.
        if (sawEnd) gz.Drain();
        gz.VerifyEnd();

        for (int slot = 0; slot <= TrainBatches; slot++)
        {
            if (!seen[slot])
                throw new DataFormatException(fileName,
                    $"member {SlotName(slot)} not found; expected cifar-10-batches-bin/{SlotName(slot)} in the tarball (is this cifar-10-binary.tar.gz?)");
        }
        if (classNames is null)
            throw new DataFormatException(fileName, $"member {MetaName} not found; expected cifar-10-batches-bin/{MetaName} with the class names");

        return (new Dataset("cifar-10/train", trainImages!, trainLabels!, classNames, Channels, Height, Width),
                new Dataset("cifar-10/test", testImages!, testLabels!, classNames, Channels, Height, Width));
    }

    private readonly record struct TarEntry(string Name, long Size, char Type);

    private static TarEntry ParseHeader(byte[] header, string fileName, long offset)
    {
        // Checksum: the sum of all header bytes with the checksum field taken as spaces (unsigned; old tars used signed).
        long stored = ParseOctal(header.AsSpan(148, 8), fileName, offset, "checksum");
        long unsignedSum = 0, signedSum = 0;
        for (int i = 0; i < BlockSize; i++)
        {
            byte b = i is >= 148 and < 156 ? (byte)' ' : header[i];
            unsignedSum += b;
            signedSum += (sbyte)b;
        }
        if (stored != unsignedSum && stored != signedSum)
            throw new DataFormatException(fileName,
                $"corrupt tar header at byte {offset:N0}: checksum field says {stored}, the header sums to {unsignedSum}");

        long size = ParseOctal(header.AsSpan(124, 12), fileName, offset, "size");
        string name = CString(header.AsSpan(0, 100));
        // POSIX ustar ("ustar\0") has a name prefix at 345; old GNU tar ("ustar  \0") keeps other fields there.
        if (header.AsSpan(257, 6).SequenceEqual("ustar\0"u8))
        {
            string prefix = CString(header.AsSpan(345, 155));
            if (prefix.Length > 0) name = prefix + "/" + name;
        }
        return new TarEntry(name, size, (char)header[156]);
    }

    /// <summary>An octal ASCII field: optional leading spaces, octal digits, then NULs/spaces to the end of the field.</summary>
    private static long ParseOctal(ReadOnlySpan<byte> field, string fileName, long offset, string what)
    {
        if (field.Length > 0 && (field[0] & 0x80) != 0)
            throw new DataFormatException(fileName, $"tar header at byte {offset:N0}: base-256 {what} field is not supported (members here are < 8 GiB)");
        int i = 0;
        while (i < field.Length && field[i] == (byte)' ') i++;
        long value = 0;
        int digits = 0;
        for (; i < field.Length && field[i] is >= (byte)'0' and <= (byte)'7'; i++, digits++)
            value = value * 8 + (field[i] - '0'); // ≤ 12 digits: no overflow
        for (; i < field.Length; i++)
        {
            if (field[i] is not (0 or (byte)' '))
                throw new DataFormatException(fileName,
                    $"corrupt tar header at byte {offset:N0}: {what} field holds '{(char)field[i]}' (0x{field[i]:X2}), expected octal digits");
        }
        if (digits == 0)
            throw new DataFormatException(fileName, $"corrupt tar header at byte {offset:N0}: {what} field is empty, expected octal digits");
        return value;
    }

    private static string CString(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private static string LastComponent(string name)
    {
        int slash = name.LastIndexOf('/');
        return slash < 0 ? name : name[(slash + 1)..];
    }

    /// <summary>0..4 for data_batch_1..5, 5 for test_batch, null for any other member.</summary>
    private static int? Slot(string name)
    {
        string last = LastComponent(name);
        if (last == TestName) return TrainBatches;
        for (int b = 1; b <= TrainBatches; b++)
        {
            if (last == $"data_batch_{b}.bin") return b - 1;
        }
        return null;
    }

    private static string SlotName(int slot) => slot == TrainBatches ? TestName : $"data_batch_{slot + 1}.bin";

    private static void ReadBatch(StrictGzipReader gz, string member, int records, byte[] buffer,
                                  Span<float> images, Span<byte> labels)
    {
        int perChunk = buffer.Length / RecordBytes;
        for (int first = 0; first < records; first += perChunk)
        {
            int n = Math.Min(perChunk, records - first);
            var chunk = buffer.AsSpan(0, n * RecordBytes);
            int read = gz.ReadUpTo(chunk);
            if (read != chunk.Length)
                throw new DataFormatException(gz.FileName,
                    $"truncated: member {member} ends after {(long)first * RecordBytes + read:N0} of {(long)records * RecordBytes:N0} bytes");
            for (int r = 0; r < n; r++)
            {
                var record = chunk.Slice(r * RecordBytes, RecordBytes);
                byte label = record[0];
                if (label >= ClassCount)
                    throw new DataFormatException(gz.FileName, $"member {member}, record {first + r:N0}: label {label}, expected 0..{ClassCount - 1}");
                labels[first + r] = label;
                Dataset.ToUnitFloats(record[1..], images.Slice((first + r) * PixelsPerImage, PixelsPerImage));
            }
        }
    }

    private static byte[] ReadMember(StrictGzipReader gz, string member, int size)
    {
        var bytes = new byte[size];
        int read = gz.ReadUpTo(bytes);
        if (read != size)
            throw new DataFormatException(gz.FileName, $"truncated: member {member} ends after {read:N0} of {size:N0} bytes");
        return bytes;
    }

    private static void SkipExactly(StrictGzipReader gz, string member, long count)
    {
        long skipped = gz.Skip(count);
        if (skipped != count)
            throw new DataFormatException(gz.FileName, $"truncated: member {member} ends {count - skipped:N0} bytes early");
    }

    /// <summary>The "path" value of pax records ("LEN key=value\n" each, LEN counting the whole record), or null.</summary>
    private static string? PaxPath(byte[] records, string fileName, long offset)
    {
        string? path = null;
        int position = 0;
        while (position < records.Length)
        {
            int space = records.AsSpan(position).IndexOf((byte)' ');
            int length = 0;
            bool digits = space > 0 && space <= 7;
            for (int i = 0; digits && i < space; i++)
            {
                byte b = records[position + i];
                if (b is < (byte)'0' or > (byte)'9') digits = false;
                else length = length * 10 + (b - '0');
            }
            if (!digits || length <= space + 1 || length > records.Length - position || records[position + length - 1] != (byte)'\n')
                throw new DataFormatException(fileName, $"corrupt pax header at byte {offset:N0}: a record at {position} is not \"LEN key=value\\n\"");
            var record = records.AsSpan(position + space + 1, length - space - 2);
            int equals = record.IndexOf((byte)'=');
            if (equals <= 0)
                throw new DataFormatException(fileName, $"corrupt pax header at byte {offset:N0}: a record at {position} has no key=value");
            if (record[..equals].SequenceEqual("path"u8)) path = Encoding.UTF8.GetString(record[(equals + 1)..]);
            position += length;
        }
        return path;
    }

    private static string[] ParseClassNames(byte[] bytes, string fileName, string member)
    {
        var names = new List<string>();
        foreach (string line in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            string trimmed = line.Trim();
            if (trimmed.Length > 0) names.Add(trimmed);
        }
        if (names.Count != ClassCount)
            throw new DataFormatException(fileName,
                $"member {member} lists {names.Count} class names, expected {ClassCount} (one a line; blank lines ignored)");
        return names.ToArray();
    }
}
