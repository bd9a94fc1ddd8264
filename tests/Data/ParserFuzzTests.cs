using System.Formats.Tar;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using NativeConv.Experiments.Data;
using static NativeConv.Tests.Data.CraftedData;

namespace NativeConv.Tests.Data;

/// <summary>
/// Seeded fuzzing of every parser with thousands of small mutated files (truncated, byte-flipped, header fields rewritten,
/// before or after compression): each case must parse or throw <see cref="DataFormatException"/> naming the file —
/// never IndexOutOfRange, OutOfMemory, NullReference or anything else, and never take long.
/// </summary>
public sealed class ParserFuzzTests
{
    private static readonly TimeSpan PerCaseLimit = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan WholeRunLimit = TimeSpan.FromSeconds(60);

    private sealed class Tally
    {
        public int Parsed, Rejected;
        public readonly HashSet<string> Kinds = new();
    }

    [Fact]
    public void IdxImagesParseOrRejectCleanly()
    {
        byte[] valid = IdxImages(20, seed: 3);
        var tally = Run(valid, cases: 1500, seed: 101, headerBytes: 16,
            parse: (stream, name) => IdxReader.ReadImages(stream, name, expectedCount: null, maxCount: 64));
        Assert.True(tally.Parsed > 50, $"only {tally.Parsed} mutated image files parsed: the mutations are too destructive to test acceptance");
        Assert.True(tally.Rejected > 500, $"only {tally.Rejected} mutated image files were rejected");
        Assert.True(tally.Kinds.Count >= 5, "too few distinct rejection reasons: " + string.Join(" | ", tally.Kinds));
    }

    [Fact]
    public void IdxLabelsParseOrRejectCleanly()
    {
        byte[] valid = IdxLabels(20);
        var tally = Run(valid, cases: 1500, seed: 202, headerBytes: 8,
            parse: (stream, name) => IdxReader.ReadLabels(stream, name, expectedCount: null, maxCount: 64));
        Assert.True(tally.Parsed > 20 && tally.Rejected > 500, $"parsed {tally.Parsed}, rejected {tally.Rejected}");
    }

    [Fact]
    public void CifarTarballParsesOrRejectsCleanly()
    {
        const int records = 2;
        // Three flavours: plain ustar, pax with a long name ('x' header), GNU with a long name ('L' record).
        var longNamed = CifarMembers(records);
        longNamed[2] = ("cifar-10-batches-bin/" + new string('n', 100) + "/data_batch_2.bin", longNamed[2].Data);
        byte[][] tars = [Tar(CifarMembers(records)), Tar(longNamed, TarEntryFormat.Pax), Tar(longNamed, TarEntryFormat.Gnu)];
        var headerOffsets = tars.Select(HeaderOffsets).ToArray();
        var structuredHeaders = tars.Select((t, f) => headerOffsets[f]
            .Where(h => t[h + 156] is (byte)'x' or (byte)'L' || Encoding.ASCII.GetString(t, h, 100).Contains("batches.meta"))
            .ToList()).ToArray();
        var rng = new Random(303);
        var tally = new Tally();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++)
        {
            byte[] input;
            string how;
            int flavour = rng.Next(tars.Length);
            byte[] tar = tars[flavour];
            var headers = headerOffsets[flavour];
            int mode = rng.Next(5);
            if (mode == 0)
            {
                // A header field rewritten with a valid checksum, so the parser gets past the checksum into size/name logic.
                byte[] raw = (byte[])tar.Clone();
                how = RewriteTarHeader(raw, headers[rng.Next(headers.Count)], rng);
                input = Gzip(raw);
            }
            else if (mode == 1)
            {
                // Structured member data (pax records, GNU long names, class names) is not covered by the header
                // checksum: rewrite a few bytes near its start, mostly with digits and separators.
                byte[] raw = (byte[])tar.Clone();
                var structured = structuredHeaders[flavour];
                int header = structured[rng.Next(structured.Count)];
                var edits = new StringBuilder($"member data after header {header}:");
                for (int e = 1 + rng.Next(3); e > 0; e--)
                {
                    int at = Math.Min(raw.Length - 1, header + 512 + (rng.Next(2) == 0 ? rng.Next(3) : rng.Next(64)));
                    raw[at] = rng.Next(4) == 0 ? (byte)rng.Next(256) : (byte)"0123456789 =\n"[rng.Next(13)];
                    edits.Append($" [{at}]={raw[at]}");
                }
                how = edits.ToString();
                input = Gzip(raw);
            }
            else if (mode == 2)
            {
                (input, how) = Mutate(tar, rng, headerBytes: 512, hotSpots: headers);
                input = Gzip(input);
            }
            else
            {
                (input, how) = Mutate(Gzip(tar), rng, headerBytes: 10);
                how = "compressed: " + how;
            }
            Check(input, $"fuzz-cifar-{i}.tar.gz", $"flavour {flavour}, {how}", tally,
                  (stream, name) => CifarReader.Read(stream, name, records));
            Assert.True(clock.Elapsed < WholeRunLimit, "the CIFAR fuzz run is too slow");
        }
        Assert.True(tally.Parsed > 20 && tally.Rejected > 300, $"parsed {tally.Parsed}, rejected {tally.Rejected}");
        Assert.True(tally.Kinds.Count >= 6, "too few distinct rejection reasons: " + string.Join(" | ", tally.Kinds));
    }

    private static Tally Run(byte[] valid, int cases, int seed, int headerBytes, Action<Stream, string> parse)
    {
        var rng = new Random(seed);
        var tally = new Tally();
        byte[] compressed = Gzip(valid);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < cases; i++)
        {
            byte[] input;
            string how;
            if (rng.Next(3) < 2)
            {
                (input, how) = Mutate(valid, rng, headerBytes);
                input = Gzip(input);
            }
            else
            {
                (input, how) = Mutate(compressed, rng, headerBytes: 10);
                how = "compressed: " + how;
            }
            Check(input, $"fuzz-{seed}-{i}.gz", how, tally, parse);
            Assert.True(clock.Elapsed < WholeRunLimit, "the fuzz run is too slow");
        }
        return tally;
    }

    private static void Check(byte[] input, string name, string how, Tally tally, Action<Stream, string> parse)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            parse(new MemoryStream(input, writable: false), name);
            tally.Parsed++;
        }
        catch (DataFormatException e)
        {
            Assert.True(e.Message.Contains(name, StringComparison.Ordinal), $"{name} ({how}): message does not name the file: {e.Message}");
            tally.Rejected++;
            tally.Kinds.Add(Reason(e.Message[(name.Length + 2)..]));
        }
        catch (Exception e)
        {
            Assert.Fail($"{name} ({how}): {e.GetType().Name} escaped the parser: {e}");
        }
        Assert.True(clock.Elapsed < PerCaseLimit, $"{name} ({how}) took {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>The first few words of a message: a coarse "kind" of rejection.</summary>
    private static string Reason(string message) => string.Join(' ', message.Split(' ').Take(3));

    /// <summary>One random mutation: truncation, byte flips (often in the header), a rewritten int32, an insertion or a deletion.</summary>
    private static (byte[] Bytes, string How) Mutate(byte[] original, Random rng, int headerBytes, List<int>? hotSpots = null)
    {
        // Structure lives in a few places (tar headers and the blocks right after them: long names, pax records);
        // aim half the damage there.
        int Where(int span) => hotSpots is not null && rng.Next(2) == 0
            ? Math.Min(original.Length - 1, hotSpots[rng.Next(hotSpots.Count)] + rng.Next(1024))
            : rng.Next(2) == 0 ? rng.Next(Math.Min(span, original.Length)) : rng.Next(original.Length);
        switch (rng.Next(6))
        {
            case 0:
            {
                int length = rng.Next(original.Length);
                return (original.AsSpan(0, length).ToArray(), $"truncated to {length}");
            }
            case 1:
            case 2:
            {
                byte[] bytes = (byte[])original.Clone();
                int flips = 1 + rng.Next(8);
                var where = new StringBuilder("flipped at");
                for (int f = 0; f < flips; f++)
                {
                    int at = Where(headerBytes * 2);
                    bytes[at] ^= (byte)(1 << rng.Next(8));
                    where.Append(' ').Append(at);
                }
                return (bytes, where.ToString());
            }
            case 3:
            {
                byte[] bytes = (byte[])original.Clone();
                int at = rng.Next(Math.Max(1, Math.Min(headerBytes, bytes.Length - 4)));
                int[] hostile = [0, -1, int.MaxValue, int.MinValue, 0x00010000, 28, 60_001, rng.Next()];
                int value = hostile[rng.Next(hostile.Length)];
                BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at), value);
                return (bytes, $"int32 {value} written at {at}");
            }
            case 4:
            {
                int at = Where(headerBytes);
                byte[] extra = new byte[1 + rng.Next(16)];
                rng.NextBytes(extra);
                return ([.. original.AsSpan(0, at), .. extra, .. original.AsSpan(at)], $"{extra.Length} bytes inserted at {at}");
            }
            default:
            {
                int at = Where(headerBytes);
                int count = Math.Min(1 + rng.Next(64), original.Length - at);
                return ([.. original.AsSpan(0, at), .. original.AsSpan(at + count)], $"{count} bytes deleted at {at}");
            }
        }
    }

    /// <summary>Offsets of the header blocks of a valid tar (walks the size fields).</summary>
    private static List<int> HeaderOffsets(byte[] tar)
    {
        var offsets = new List<int>();
        int offset = 0;
        while (offset + 512 <= tar.Length && tar.AsSpan(offset, 512).IndexOfAnyExcept((byte)0) >= 0)
        {
            offsets.Add(offset);
            long size = Convert.ToInt64(Encoding.ASCII.GetString(tar, offset + 124, 11), 8);
            offset += 512 + (int)((size + 511) / 512 * 512);
        }
        Assert.True(offsets.Count >= 8, "the crafted tar should have a directory, a meta, six batches and a readme");
        return offsets;
    }

    private static string RewriteTarHeader(byte[] tar, int header, Random rng)
    {
        (int Start, int Length, string Name)[] fields =
            [(0, 100, "name"), (124, 12, "size"), (156, 1, "type"), (257, 6, "magic"), (345, 155, "prefix")];
        var field = fields[rng.Next(fields.Length)];
        var span = tar.AsSpan(header + field.Start, field.Length);
        string how;
        switch (rng.Next(4))
        {
            case 0:
                rng.NextBytes(span);
                how = "random bytes";
                break;
            case 1:
                for (int i = 0; i < span.Length; i++) span[i] = (byte)('0' + rng.Next(8));
                how = "random octal digits";
                break;
            case 2:
                span.Fill((byte)'7');
                how = "all sevens";
                break;
            default:
                span.Clear();
                how = "zeroed";
                break;
        }
        // A valid checksum, so the parser has to deal with the field itself.
        var block = tar.AsSpan(header, 512);
        block.Slice(148, 8).Fill((byte)' ');
        int sum = 0;
        foreach (byte b in block) sum += b;
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(block.Slice(148, 8));
        return $"header at {header}: {field.Name} set to {how}";
    }
}
