using System.Buffers.Binary;

namespace NativeConv.Experiments.Data;

/// <summary>Pixels of an IDX image file: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Cols"/> bytes, image-major.</summary>
public sealed record IdxImages(int Count, int Rows, int Cols, byte[] Pixels);

/// <summary>
/// Strict reader for gzip-compressed IDX files (the MNIST / Fashion-MNIST format): a big-endian int32 header — magic
/// 0x00000803 (2051, unsigned-byte images, 3 dimensions) or 0x00000801 (2049, unsigned-byte labels, 1 dimension), then the
/// dimension sizes — followed by exactly the bytes the header promises and nothing else.
/// Any deviation throws <see cref="DataFormatException"/> naming the file, what was expected and what was found.
/// Allocation is bounded by the expected count (or <c>maxCount</c>), never by what a hostile header claims.
/// </summary>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    /// <summary>The largest split of the known IDX datasets (Fashion-MNIST / MNIST train: 60,000).</summary>
    public const int MaxKnownCount = 60_000;

    public static IdxImages ReadImages(string path, int? expectedCount = null, int expectedRows = 28, int expectedCols = 28,
                                       int maxCount = MaxKnownCount)
    {
        using var file = File.OpenRead(path);
        return ReadImages(file, path, expectedCount, expectedRows, expectedCols, maxCount);
    }

    /// <param name="compressed">The gzip-compressed file contents.</param>
    /// <param name="fileName">Named in every error message.</param>
    /// <param name="expectedCount">Exact image count required, or null for any count in 1..<paramref name="maxCount"/>.</param>
    public static IdxImages ReadImages(Stream compressed, string fileName, int? expectedCount = null, int expectedRows = 28,
                                       int expectedCols = 28, int maxCount = MaxKnownCount)
    {
        using var gz = new StrictGzipReader(compressed, fileName);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(gz, fileName, header, ImagesMagic, "images", rank: 3);
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int rows = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        int cols = BinaryPrimitives.ReadInt32BigEndian(header[12..]);

        if (count <= 0 || rows <= 0 || cols <= 0)
            throw new DataFormatException(fileName, $"expected positive dimensions (count, rows, cols), found ({count}, {rows}, {cols})");
        long total = (long)count * rows * cols;
        if (total > Array.MaxLength)
            throw new DataFormatException(fileName,
                $"dimensions {count}×{rows}×{cols} = {total:N0} bytes overflow a 32-bit size; expected at most {MaxKnownCount:N0}×28×28");
        if (rows != expectedRows || cols != expectedCols)
            throw new DataFormatException(fileName, $"expected {expectedRows}×{expectedCols} images, found {rows}×{cols}");
        CheckCount(fileName, "image", count, expectedCount, maxCount);

        var pixels = new byte[total];
        int read = gz.ReadUpTo(pixels);
        if (read != pixels.Length)
            throw new DataFormatException(fileName,
                $"truncated: the header promises {count:N0}×{rows}×{cols} = {total:N0} pixel bytes after the 16-byte header, found {read:N0}");
        if (!gz.AtEnd())
            throw new DataFormatException(fileName,
                $"trailing data: expected the file to end after {total + 16:N0} bytes (16-byte header + {count:N0}×{rows}×{cols} pixels), found more");
        gz.VerifyEnd();
        return new IdxImages(count, rows, cols, pixels);
    }

    public static byte[] ReadLabels(string path, int? expectedCount = null, int classCount = 10, int maxCount = MaxKnownCount)
    {
        using var file = File.OpenRead(path);
        return ReadLabels(file, path, expectedCount, classCount, maxCount);
    }

    /// <param name="compressed">The gzip-compressed file contents.</param>
    /// <param name="fileName">Named in every error message.</param>
    /// <param name="expectedCount">Exact label count required, or null for any count in 1..<paramref name="maxCount"/>.</param>
    /// <param name="classCount">Labels must lie in 0..classCount-1.</param>
    public static byte[] ReadLabels(Stream compressed, string fileName, int? expectedCount = null, int classCount = 10,
                                    int maxCount = MaxKnownCount)
    {
        using var gz = new StrictGzipReader(compressed, fileName);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(gz, fileName, header, LabelsMagic, "labels", rank: 1);
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (count <= 0)
            throw new DataFormatException(fileName, $"expected a positive label count, found {count}");
        CheckCount(fileName, "label", count, expectedCount, maxCount);

        var labels = new byte[count];
        int read = gz.ReadUpTo(labels);
        if (read != count)
            throw new DataFormatException(fileName, $"truncated: the header promises {count:N0} labels after the 8-byte header, found {read:N0}");
        if (!gz.AtEnd())
            throw new DataFormatException(fileName,
                $"trailing data: expected the file to end after {count + 8:N0} bytes (8-byte header + {count:N0} labels), found more");
        gz.VerifyEnd();
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classCount)
                throw new DataFormatException(fileName, $"label {i:N0} is {labels[i]}, expected 0..{classCount - 1}");
        }
        return labels;
    }

    private static void ReadHeader(StrictGzipReader gz, string fileName, Span<byte> header, int magic, string kind, int rank)
    {
        // The magic number alone first, so a file of the wrong kind is named as such rather than "truncated".
        int read = gz.ReadUpTo(header[..4]);
        if (read < 4)
            throw new DataFormatException(fileName, $"truncated header: expected {header.Length} bytes of IDX {kind} header, found {read}");
        int found = BinaryPrimitives.ReadInt32BigEndian(header);
        if (found != magic)
        {
            string hint = found == ImagesMagic ? " (an IDX images file — wrong file?)"
                : found == LabelsMagic ? " (an IDX labels file — wrong file?)"
                : (found & ~0xFF) == (magic & ~0xFF) ? $" (unsigned-byte IDX with {found & 0xFF} dimensions; expected {rank})"
                : "";
            throw new DataFormatException(fileName,
                $"expected IDX {kind} magic 0x{magic:X8} ({magic}: unsigned bytes, {rank} dimension{(rank == 1 ? "" : "s")}), found 0x{found:X8}{hint}");
        }
        read = gz.ReadUpTo(header[4..]);
        if (read < header.Length - 4)
            throw new DataFormatException(fileName, $"truncated header: expected {header.Length} bytes of IDX {kind} header, found {4 + read}");
    }

    private static void CheckCount(string fileName, string what, int count, int? expectedCount, int maxCount)
    {
        if (expectedCount is int expected && count != expected)
            throw new DataFormatException(fileName, $"expected {expected:N0} {what}s, found a header count of {count:N0}");
        else if (count > maxCount)
            throw new DataFormatException(fileName, $"expected at most {maxCount:N0} {what}s, found a header count of {count:N0}");
    }
}
