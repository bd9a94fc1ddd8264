using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeConv.Experiments.Data;

/// <summary>
/// Reads a gzip stream strictly, for the dataset parsers: every read goes through here, so a corrupt or non-gzip stream
/// surfaces as a <see cref="DataFormatException"/> naming the file instead of a bare InvalidDataException; big reads go
/// in bounded chunks; and <see cref="VerifyEnd"/> checks the gzip trailer's length field, which GZipStream does not do
/// when the trailer is missing altogether (a download cut just after the last compressed block reads as complete).
/// </summary>
internal sealed class StrictGzipReader : IDisposable
{
    /// <summary>Largest single read.</summary>
    public const int ChunkBytes = 1 << 20;

    private readonly Stream _compressed;
    private readonly GZipStream _gzip;

    public StrictGzipReader(Stream compressed, string fileName)
    {
        _compressed = compressed;
        _gzip = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true);
        FileName = fileName;
    }

    public string FileName { get; }

    /// <summary>Decompressed bytes read so far.</summary>
    public long Position { get; private set; }

    public void Dispose() => _gzip.Dispose();

    /// <summary>Reads until <paramref name="destination"/> is full or the stream ends; returns the bytes read.</summary>
    public int ReadUpTo(Span<byte> destination)
    {
        int total = 0;
        try
        {
            while (total < destination.Length)
            {
                int read = _gzip.Read(destination.Slice(total, Math.Min(ChunkBytes, destination.Length - total)));
                if (read == 0) break;
                total += read;
            }
        }
        catch (Exception e) when (IsStreamCorruption(e))
        {
            throw new DataFormatException(FileName,
                $"not a valid gzip stream, or corrupt compressed data after {Position + total:N0} decompressed bytes " +
                $"({e.GetType().Name}: {e.Message}); expected the gzip-compressed file as distributed — download it again", e);
        }
        Position += total;
        return total;
    }

    /// <summary>Reads and discards up to <paramref name="count"/> bytes; returns how many there were.</summary>
    public long Skip(long count)
    {
        Span<byte> scratch = stackalloc byte[8192];
        long skipped = 0;
        while (skipped < count)
        {
            int read = ReadUpTo(scratch[..(int)Math.Min(scratch.Length, count - skipped)]);
            if (read == 0) break;
            skipped += read;
        }
        return skipped;
    }

    /// <summary>True when no decompressed bytes are left.</summary>
    public bool AtEnd()
    {
        Span<byte> one = stackalloc byte[1];
        return ReadUpTo(one) == 0;
    }

    /// <summary>Reads to the end, discarding; returns how many bytes there were.</summary>
    public long Drain() => Skip(long.MaxValue);

    /// <summary>
    /// Call after the last decompressed byte was read: checks that a gzip trailer follows, whose length field (ISIZE, the
    /// uncompressed length mod 2^32) matches what was decompressed. GZipStream itself checks the CRC when the trailer is
    /// there. Only possible on a seekable stream (files, memory); for others this is a no-op.
    /// </summary>
    public void VerifyEnd()
    {
        if (!_compressed.CanSeek) return;
        long length = _compressed.Length;
        Span<byte> isize = stackalloc byte[4];
        if (length < 18) // 10-byte header + 8-byte trailer is the smallest gzip file
            throw new DataFormatException(FileName, $"truncated gzip: {length} bytes cannot hold a gzip header and trailer");
        _compressed.Seek(length - 4, SeekOrigin.Begin);
        _compressed.ReadExactly(isize);
        uint stated = BinaryPrimitives.ReadUInt32LittleEndian(isize);
        if (stated != (uint)Position)
            throw new DataFormatException(FileName,
                $"truncated or corrupt gzip: the trailer states {stated:N0} uncompressed bytes (mod 2^32), found {Position:N0}; " +
                "expected a complete single-member gzip file — download it again");
    }

    private static bool IsStreamCorruption(Exception e) =>
        e is InvalidDataException or NotSupportedException
        || (e is IOException && e is not FileNotFoundException && e is not DirectoryNotFoundException);
}
