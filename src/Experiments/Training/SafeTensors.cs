using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Training;

/// <summary>One named float32 array of a safetensors file: its dimensions and its elements in row-major order.</summary>
public sealed class SafeTensor
{
    public SafeTensor(string name, int[] shape, float[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long size = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"SafeTensor '{name}': dimension {d} is negative.");
            size *= d;
        }
        if (size != data.Length)
            throw new ArgumentException($"SafeTensor '{name}': shape [{string.Join(", ", shape)}] holds {size} elements but {data.Length} were given.");
        Name = name;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }
    public int[] Shape { get; }
    public float[] Data { get; }
}

/// <summary>
/// The safetensors format (https://huggingface.co/docs/safetensors), float32 only:
/// <code>
/// [8 bytes] N, unsigned 64-bit little-endian: the header length
/// [N bytes] UTF-8 JSON: { "name": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
///                         "__metadata__": { "key": "string value", ... } }   (padded with spaces to a multiple of 8)
/// [rest]    the byte buffer: each tensor's elements, little-endian, at [begin, end) relative to the buffer start
/// </code>
/// The reader is strict: every structural promise of the header is checked against the bytes before anything is copied, so
/// a damaged file throws <see cref="CheckpointFormatException"/> (naming the file) and never an index or memory error.
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>The metadata key of the header; no tensor may have this name.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Upper bound on the JSON header, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const int MaxRank = 8;

    private readonly List<SafeTensor> _tensors = new();
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    /// <summary>String metadata (the "__metadata__" object of the header).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The tensors in file order (the order their bytes appear in the buffer).</summary>
    public IReadOnlyList<SafeTensor> Tensors => _tensors;

    public void Add(SafeTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Name == MetadataKey)
            throw new ArgumentException($"A tensor cannot be named '{MetadataKey}': that key holds the file's metadata.");
        if (!_index.TryAdd(tensor.Name, _tensors.Count))
            throw new ArgumentException($"The checkpoint already has a tensor named '{tensor.Name}'.");
        _tensors.Add(tensor);
    }

    public void Add(string name, int[] shape, float[] data) => Add(new SafeTensor(name, shape, data));

    public bool Contains(string name) => _index.ContainsKey(name);

    public bool TryGet(string name, out SafeTensor tensor)
    {
        if (_index.TryGetValue(name, out int i)) { tensor = _tensors[i]; return true; }
        tensor = null!;
        return false;
    }

    // ---------------------------------------------------------------- writing

    /// <summary>The file's bytes.</summary>
    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        WriteTo(stream);
        return stream.ToArray();
    }

    /// <summary>Writes the file to <paramref name="path"/> atomically (temporary file, fsync, rename).</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>Writes the file's bytes to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        byte[] header = BuildHeader();
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        Span<byte> four = stackalloc byte[4];
        foreach (var tensor in _tensors)
        {
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(tensor.Data.AsSpan()));
            }
            else
            {
                foreach (float f in tensor.Data)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(four, f);
                    stream.Write(four);
                }
            }
        }
    }

    private byte[] BuildHeader()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in Metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in _tensors)
            {
                long end = offset + (long)tensor.Data.Length * sizeof(float);
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the byte buffer starts 8-byte aligned, as the reference writer does.
        int length = (int)buffer.Length;
        int padded = (length + 7) & ~7;
        for (int i = length; i < padded; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Reads and validates a safetensors file; throws <see cref="CheckpointFormatException"/> naming it when it is damaged.</summary>
    public static SafeTensorsFile Load(string path)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
                throw new CheckpointFormatException(path, "the file does not exist.");
            if (info.Length > Array.MaxLength)
                throw new CheckpointFormatException(path, $"the file has {info.Length} bytes, more than this reader supports ({Array.MaxLength}).");
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException ex)
        {
            throw new CheckpointFormatException(path, $"cannot be read: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new CheckpointFormatException(path, $"cannot be read: {ex.Message}", ex);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses and validates a whole file held in memory; <paramref name="source"/> names it in error messages.</summary>
    public static SafeTensorsFile Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
            throw new CheckpointFormatException(source, $"the file has {bytes.Length} bytes, fewer than the 8-byte header length prefix (truncated or not a safetensors file).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        long available = bytes.Length - 8L;
        if (headerLength < 2)
            throw new CheckpointFormatException(source, $"the header length is {headerLength}; a JSON header needs at least 2 bytes.");
        if (headerLength > MaxHeaderBytes)
            throw new CheckpointFormatException(source, $"the header length is {headerLength} bytes, more than the {MaxHeaderBytes} allowed (corrupt length prefix or not a safetensors file).");
        if ((long)headerLength > available)
            throw new CheckpointFormatException(source, $"the header claims {headerLength} bytes but only {available} follow the length prefix (truncated file).");

        var headerBytes = bytes.Slice(8, (int)headerLength);
        var data = bytes.Slice(8 + (int)headerLength);
        var result = new SafeTensorsFile();
        var entries = new List<(string Name, int[] Shape, long Begin, long End)>();

        // JsonDocument defers UTF-8 validation of strings until they are read (and then throws InvalidOperationException).
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            throw new CheckpointFormatException(source, "the header is not valid UTF-8 (corrupt bytes in the JSON).");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new CheckpointFormatException(source, $"the header is not valid JSON ({ex.Message}).", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(source, $"the header must be a JSON object; found {root.ValueKind}.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new CheckpointFormatException(source, $"the header names '{property.Name}' twice.");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, result.Metadata, source);
                else
                    entries.Add(ReadEntry(property.Name, property.Value, data.Length, source));
            }
        }

        // The byte buffer must be covered exactly: sorted by offset, each tensor starts where the previous one ended, and the
        // last one ends at the end of the file. This rejects overlaps, holes and truncated or padded data in one rule.
        var order = entries.ToArray();
        Array.Sort(order, static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        foreach (var entry in order)
        {
            if (entry.Begin < expected)
                throw new CheckpointFormatException(source, $"tensor '{entry.Name}' at bytes [{entry.Begin}, {entry.End}) overlaps the previous tensor, which ends at {expected}.");
            if (entry.Begin > expected)
                throw new CheckpointFormatException(source, $"tensor '{entry.Name}' starts at byte {entry.Begin} but the previous data ends at {expected}: the buffer has a hole.");
            expected = entry.End;
        }
        if (expected != data.Length)
            throw new CheckpointFormatException(source, expected < data.Length
                ? $"the tensors cover {expected} bytes but the file holds {data.Length} bytes of data after the header (trailing bytes)."
                : $"the tensors need {expected} bytes of data but the file holds only {data.Length} (truncated file).");

        foreach (var entry in order)
        {
            var span = data.Slice((int)entry.Begin, (int)(entry.End - entry.Begin));
            var values = new float[span.Length / sizeof(float)];
            if (BitConverter.IsLittleEndian)
                span.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            else
                for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(i * 4));
            result.Add(new SafeTensor(entry.Name, entry.Shape, values));
        }
        return result;
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> into, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(source, $"'{MetadataKey}' must be an object of strings; found {value.ValueKind}.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(source, $"metadata '{item.Name}' must be a string; found {item.Value.ValueKind}.");
            if (!into.TryAdd(item.Name, item.Value.GetString()!))
                throw new CheckpointFormatException(source, $"metadata key '{item.Name}' appears twice.");
        }
    }

    private static (string Name, int[] Shape, long Begin, long End) ReadEntry(string name, JsonElement value, int dataLength, string source)
    {
        if (name.Length == 0)
            throw new CheckpointFormatException(source, "a tensor has an empty name.");
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(source, $"tensor '{name}': its entry must be an object with dtype, shape and data_offsets; found {value.ValueKind}.");

        string? dtype = null;
        int[]? shape = null;
        long begin = -1, end = -1;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype":
                    if (dtype is not null) throw new CheckpointFormatException(source, $"tensor '{name}': 'dtype' appears twice.");
                    if (field.Value.ValueKind != JsonValueKind.String)
                        throw new CheckpointFormatException(source, $"tensor '{name}': dtype must be a string; found {field.Value.ValueKind}.");
                    dtype = field.Value.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw new CheckpointFormatException(source, $"tensor '{name}': 'shape' appears twice.");
                    shape = ReadShape(name, field.Value, source);
                    break;
                case "data_offsets":
                    if (begin >= 0) throw new CheckpointFormatException(source, $"tensor '{name}': 'data_offsets' appears twice.");
                    (begin, end) = ReadOffsets(name, field.Value, source);
                    break;
                default:
                    throw new CheckpointFormatException(source, $"tensor '{name}': unknown field '{field.Name}' (expected dtype, shape, data_offsets).");
            }
        }
        if (dtype is null || shape is null || begin < 0)
            throw new CheckpointFormatException(source, $"tensor '{name}': the entry must have dtype, shape and data_offsets.");
        if (dtype != "F32")
            throw new CheckpointFormatException(source, $"tensor '{name}': dtype '{dtype}' is not supported; NativeConv checkpoints hold float32 (\"F32\") only.");
        if (end > dataLength)
            throw new CheckpointFormatException(source, $"tensor '{name}': data_offsets [{begin}, {end}) run past the {dataLength} bytes of data (truncated file).");

        // Element count with an overflow guard: a product beyond the byte span is already wrong, so stop there.
        long elements = 1;
        bool hasZero = false;
        foreach (int d in shape) if (d == 0) hasZero = true;
        if (hasZero) elements = 0;
        else
            foreach (int d in shape)
            {
                elements *= d;
                if (elements > dataLength) break;
            }
        if (elements * sizeof(float) != end - begin)
            throw new CheckpointFormatException(source, $"tensor '{name}': shape [{string.Join(", ", shape)}] needs {(elements > dataLength ? "more than " + dataLength : (elements * sizeof(float)).ToString())} bytes but data_offsets [{begin}, {end}) span {end - begin}.");
        return (name, shape, begin, end);
    }

    private static int[] ReadShape(string name, JsonElement value, string source)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw new CheckpointFormatException(source, $"tensor '{name}': shape must be an array of integers; found {value.ValueKind}.");
        int rank = value.GetArrayLength();
        if (rank > MaxRank)
            throw new CheckpointFormatException(source, $"tensor '{name}': shape has {rank} dimensions; at most {MaxRank} are supported.");
        var shape = new int[rank];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int d) || d < 0)
                throw new CheckpointFormatException(source, $"tensor '{name}': shape entry {i} ({item.GetRawText()}) is not a non-negative 32-bit integer.");
            shape[i++] = d;
        }
        return shape;
    }

    private static (long Begin, long End) ReadOffsets(string name, JsonElement value, string source)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 2)
            throw new CheckpointFormatException(source, $"tensor '{name}': data_offsets must be an array [begin, end].");
        long begin = ReadOffset(name, value[0], source);
        long end = ReadOffset(name, value[1], source);
        if (end < begin)
            throw new CheckpointFormatException(source, $"tensor '{name}': data_offsets [{begin}, {end}) end before they begin.");
        return (begin, end);
    }

    private static long ReadOffset(string name, JsonElement item, string source)
    {
        if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long offset) || offset < 0)
            throw new CheckpointFormatException(source, $"tensor '{name}': data offset {item.GetRawText()} is not a non-negative integer.");
        return offset;
    }
}
