using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NativeConv.Experiments.Training;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Training;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-safetensors-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static SafeTensorsFile Sample(int seed)
    {
        var file = new SafeTensorsFile();
        file.Add("conv1.weight", [3, 3, 1, 4], TestRandom.Uniform(36, seed));
        file.Add("conv1.bias", [4], TestRandom.Uniform(4, seed + 1));
        file.Add("empty", [0, 5], []);
        file.Add("dense1.weight", [7, 3], TestRandom.Uniform(21, seed + 2));
        file.Add("scalar", [], [float.NegativeInfinity]);
        file.Metadata["format"] = "nativeconv-checkpoint";
        file.Metadata["optimizer.step"] = "12345";
        file.Metadata["unicode ✓"] = "quotes \" and \\ backslashes";
        return file;
    }

    [Fact]
    public void RoundTripPreservesEveryTensorBitwiseAndTheMetadata()
    {
        var original = Sample(seed: 7);
        // Awkward values that a text format or a careless copy would change.
        original.Add("special", [6], [float.NaN, -0f, float.Epsilon, float.MaxValue, BitConverter.Int32BitsToSingle(0x7fc12345), 1e-40f]);
        string path = Path.Combine(_folder, "a.safetensors");
        original.Save(path);
        var loaded = SafeTensorsFile.Load(path);

        Assert.Equal(original.Tensors.Count, loaded.Tensors.Count);
        foreach (var expected in original.Tensors)
        {
            Assert.True(loaded.TryGet(expected.Name, out var actual), expected.Name);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data.Length, actual.Data.Length);
            for (int i = 0; i < expected.Data.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(expected.Data[i]), BitConverter.SingleToInt32Bits(actual.Data[i]));
        }
        Assert.Equal(original.Metadata.OrderBy(kv => kv.Key), loaded.Metadata.OrderBy(kv => kv.Key));
        Assert.Equal([path], Directory.GetFiles(_folder)); // no temporary left behind
    }

    [Fact]
    public void WrittenFileFollowsTheSpecificationByteForByte()
    {
        var file = Sample(seed: 3);
        byte[] bytes = file.ToBytes();

        // 8-byte little-endian header length, then that many bytes of UTF-8 JSON, then the raw buffer.
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.True(8 + (long)n <= bytes.Length);
        Assert.Equal(0UL, (8 + n) % 8); // the buffer starts 8-byte aligned (header padded with spaces)
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{", header);
        Assert.EndsWith("}", header.TrimEnd(' '));
        int bufferStart = 8 + (int)n;
        int bufferLength = bytes.Length - bufferStart;

        using var json = JsonDocument.Parse(header);
        var root = json.RootElement;
        var metadata = root.GetProperty("__metadata__");
        Assert.Equal("12345", metadata.GetProperty("optimizer.step").GetString());
        Assert.Equal("quotes \" and \\ backslashes", metadata.GetProperty("unicode ✓").GetString());

        long covered = 0;
        foreach (var tensor in file.Tensors)
        {
            var entry = root.GetProperty(tensor.Name);
            Assert.Equal(["data_offsets", "dtype", "shape"], entry.EnumerateObject().Select(p => p.Name).Order().ToArray());
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            Assert.Equal(tensor.Shape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
            long begin = entry.GetProperty("data_offsets")[0].GetInt64();
            long end = entry.GetProperty("data_offsets")[1].GetInt64();
            Assert.Equal(tensor.Data.Length * 4L, end - begin);
            Assert.InRange(end, begin, bufferLength);
            covered += end - begin;
            // The elements, decoded by hand as little-endian float32 at the stated offsets.
            for (int i = 0; i < tensor.Data.Length; i++)
            {
                float value = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(bufferStart + (int)begin + 4 * i, 4));
                Assert.Equal(BitConverter.SingleToInt32Bits(tensor.Data[i]), BitConverter.SingleToInt32Bits(value));
            }
        }
        Assert.Equal(bufferLength, covered);
        Assert.Equal(file.Tensors.Count + 1, root.EnumerateObject().Count());
    }

    [Fact]
    public void ReadsAFileWrittenByHandFromTheSpecification()
    {
        // Tensors in the buffer in the opposite order of the header, no metadata, no padding: all legal.
        string header = """{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}""";
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + 12];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        int at = 8 + headerBytes.Length;
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at + 4), -2f);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at + 8), 42f);

        var file = SafeTensorsFile.Parse(bytes, "by-hand");
        Assert.True(file.TryGet("b", out var b));
        Assert.Equal([1.5f, -2f], b.Data);
        Assert.True(file.TryGet("a", out var a));
        Assert.Equal([1, 1], a.Shape);
        Assert.Equal([42f], a.Data);
        Assert.Empty(file.Metadata);
    }

    public static TheoryData<string, string> BadHeaders => new()
    {
        { """{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}""", "dtype 'F16'" },
        { """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "needs 12 bytes" },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", "run past" },
        { """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "overlaps" },
        { """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "hole" },
        { """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "trailing bytes" },
        { """{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "non-negative" },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", "end before" },
        { """{"a":{"dtype":"F32","shape":[2]}}""", "must have dtype" },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}""", "unknown field" },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "twice" },
        { """{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "must be a string" },
        { """{"a":{"dtype":"F32","shape":[65536,65536,65536,0,65536],"data_offsets":[0,8]}}""", "needs 0 bytes" },
        { """{"a":{"dtype":"F32","shape":[65536,65536,65536,65536],"data_offsets":[0,8]}}""", "needs more than" },
        { """[1,2]""", "must be a JSON object" },
        { """{"a":""", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void RejectsHeadersThatBreakTheSpecificationWithAClearMessage(string header, string expectedProblem)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        var ex = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Parse(bytes, "bad.safetensors"));
        Assert.Contains("bad.safetensors", ex.Message);
        Assert.Contains(expectedProblem, ex.Message);
    }

    [Fact]
    public void RejectsBadLengthPrefixesAndMissingFiles()
    {
        Assert.Contains("fewer than the 8-byte", Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Parse(new byte[5], "x")).Message);
        var huge = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(huge, ulong.MaxValue);
        Assert.Contains("more than the", Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Parse(huge, "x")).Message);
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 9);
        Assert.Contains("truncated", Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Parse(huge, "x")).Message);
        string missing = Path.Combine(_folder, "missing.safetensors");
        var ex = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Load(missing));
        Assert.Equal(missing, ex.FilePath);
    }

    [Fact]
    public void DamagedFilesEitherLoadOrThrowTheFormatExceptionNeverAnythingElse()
    {
        byte[] original = Sample(seed: 11).ToBytes();
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var rng = new Random(2024);
        int loaded = 0, rejected = 0;
        for (int trial = 0; trial < 6000; trial++)
        {
            byte[] bytes;
            switch (trial % 4)
            {
                case 0: // truncated anywhere
                    bytes = original.AsSpan(0, rng.Next(original.Length)).ToArray();
                    break;
                case 1: // one to four flipped bits or bytes, mostly in the length prefix and the header
                    bytes = (byte[])original.Clone();
                    for (int k = rng.Next(1, 5); k > 0; k--)
                    {
                        int at = rng.Next(10) < 8 ? rng.Next(headerEnd) : rng.Next(bytes.Length);
                        if (rng.Next(2) == 0) bytes[at] ^= (byte)(1 << rng.Next(8));
                        else bytes[at] = (byte)rng.Next(256);
                    }
                    break;
                case 2: // a JSON-significant character (digit, quote, brace, comma...) dropped into the header
                    bytes = (byte[])original.Clone();
                    const string significant = "0123456789\"{}[],:-e.";
                    bytes[8 + rng.Next(headerEnd - 8)] = (byte)significant[rng.Next(significant.Length)];
                    break;
                default: // a random header length prefix, or extra bytes appended
                    bytes = (byte[])original.Clone();
                    if (rng.Next(2) == 0)
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes, rng.Next(3) switch { 0 => (ulong)rng.Next(original.Length + 16), 1 => (ulong)rng.NextInt64(), _ => ulong.MaxValue - (ulong)rng.Next(16) });
                    else
                        bytes = [.. bytes, .. new byte[rng.Next(1, 9)]];
                    break;
            }

            try
            {
                var file = SafeTensorsFile.Parse(bytes, "fuzz.safetensors");
                loaded++;
                // Whatever loads must be self-consistent: it serialises and parses again to the same tensors.
                var again = SafeTensorsFile.Parse(file.ToBytes(), "again");
                Assert.Equal(file.Tensors.Count, again.Tensors.Count);
            }
            catch (CheckpointFormatException ex)
            {
                rejected++;
                Assert.Equal("fuzz.safetensors", ex.FilePath);
            }
        }
        Assert.True(rejected > 3000, $"only {rejected} of 6000 damaged files were rejected");
        Assert.True(loaded > 0, "no damaged file loaded: the data-region flips should (the format has no checksum)");
    }
}
