using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using SkiaSharp;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// A PNG with one row per class: the class name, then the first <c>perClass</c> images of that class (nearest-neighbour
/// upscaled so 28- or 32-pixel images stay readable), drawn with SkiaSharp.
/// </summary>
public static class SampleGrid
{
    public const int Scale = 2, Padding = 4, LabelWidth = 120;

    /// <summary>The pixel size of the grid for a dataset of (H, W) images, <paramref name="classes"/> rows and <paramref name="perClass"/> columns.</summary>
    public static (int Width, int Height) Size(int height, int width, int classes, int perClass) =>
        (LabelWidth + perClass * (width * Scale + Padding) + Padding, classes * (height * Scale + Padding) + Padding);

    /// <summary>Draws the grid and writes it to <paramref name="path"/> atomically; returns the indices shown per class.</summary>
    public static int[][] Write(string path, Dataset data, int perClass)
    {
        if (perClass < 1) throw new ArgumentOutOfRangeException(nameof(perClass), perClass, "The sample grid needs at least one image per class.");
        var (c, h, w) = data.Shape;
        var picked = new int[data.ClassCount][];
        var found = new List<int>[data.ClassCount];
        for (int k = 0; k < found.Length; k++) found[k] = new List<int>(perClass);
        for (int i = 0; i < data.Count; i++)
            if (found[data.Labels[i]].Count < perClass) found[data.Labels[i]].Add(i);
        for (int k = 0; k < found.Length; k++) picked[k] = found[k].ToArray();

        var (width, height) = Size(h, w, data.ClassCount, perClass);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            using var font = new SKFont(SKTypeface.Default, 13);
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            int plane = h * w;
            for (int k = 0; k < data.ClassCount; k++)
            {
                int top = Padding + k * (h * Scale + Padding);
                canvas.DrawText($"{k} {data.ClassNames[k]}", 6, top + h * Scale / 2f + 5, SKTextAlign.Left, font, paint);
                for (int j = 0; j < picked[k].Length; j++)
                {
                    int left = LabelWidth + j * (w * Scale + Padding);
                    var image = data.Image(picked[k][j]);
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                        {
                            byte r = ToByte(image[y * w + x]);
                            byte g = c == 3 ? ToByte(image[plane + y * w + x]) : r;
                            byte b = c == 3 ? ToByte(image[2 * plane + y * w + x]) : r;
                            var color = new SKColor(r, g, b);
                            for (int dy = 0; dy < Scale; dy++)
                                for (int dx = 0; dx < Scale; dx++)
                                    bitmap.SetPixel(left + x * Scale + dx, top + y * Scale + dy, color);
                        }
                }
            }
        }
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, encoded.AsSpan());
        return picked;
    }

    private static byte ToByte(float unit) => (byte)Math.Clamp(MathF.Round(unit * 255f), 0, 255);
}
