using System.Buffers.Binary;
using SkiaSharp;

namespace NativeConv.Tests.Serving;

/// <summary>Writes CHW [0,1] float images (a dataset's own pixels) as PNG, JPEG or BMP files, for the decoding tests.</summary>
internal static class TestImages
{
    /// <summary>The 8-bit value a dataset float came from (datasets store byte / 255f, so this is exact).</summary>
    public static byte ToByte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);

    /// <summary>A Skia bitmap of a CHW image: Gray8 for one channel, RGBA (opaque) for three.</summary>
    public static SKBitmap ToBitmap(ReadOnlySpan<float> chw, int channels, int height, int width)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        int plane = height * width;
        for (int i = 0; i < plane; i++)
        {
            if (channels == 1)
            {
                pixels[i] = ToByte(chw[i]);
            }
            else
            {
                pixels[4 * i] = ToByte(chw[i]);
                pixels[4 * i + 1] = ToByte(chw[plane + i]);
                pixels[4 * i + 2] = ToByte(chw[2 * plane + i]);
                pixels[4 * i + 3] = 255;
            }
        }
        return bitmap;
    }

    public static byte[] Encode(ReadOnlySpan<float> chw, int channels, int height, int width, SKEncodedImageFormat format, int quality = 100)
    {
        if (format == SKEncodedImageFormat.Bmp) return Bmp(chw, channels, height, width);
        using var bitmap = ToBitmap(chw, channels, height, width);
        using var data = bitmap.Encode(format, quality) ?? throw new InvalidOperationException($"SkiaSharp cannot encode {format}.");
        return data.ToArray();
    }

    /// <summary>A 24-bit bottom-up BMP (SkiaSharp has no BMP encoder): BITMAPFILEHEADER + BITMAPINFOHEADER + BGR rows padded to 4 bytes.</summary>
    public static byte[] Bmp(ReadOnlySpan<float> chw, int channels, int height, int width)
    {
        int stride = (width * 3 + 3) & ~3;
        var bytes = new byte[54 + stride * height];
        var s = bytes.AsSpan();
        s[0] = (byte)'B'; s[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(s[2..], bytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(s[10..], 54);
        BinaryPrimitives.WriteInt32LittleEndian(s[14..], 40);
        BinaryPrimitives.WriteInt32LittleEndian(s[18..], width);
        BinaryPrimitives.WriteInt32LittleEndian(s[22..], height);
        BinaryPrimitives.WriteInt16LittleEndian(s[26..], 1);
        BinaryPrimitives.WriteInt16LittleEndian(s[28..], 24);
        BinaryPrimitives.WriteInt32LittleEndian(s[34..], stride * height);
        int plane = height * width;
        for (int y = 0; y < height; y++)
        {
            int row = 54 + (height - 1 - y) * stride;
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                byte r = ToByte(chw[i]);
                byte g = channels == 1 ? r : ToByte(chw[plane + i]);
                byte b = channels == 1 ? r : ToByte(chw[2 * plane + i]);
                bytes[row + 3 * x] = b;
                bytes[row + 3 * x + 1] = g;
                bytes[row + 3 * x + 2] = r;
            }
        }
        return bytes;
    }
}
