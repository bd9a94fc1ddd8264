using NativeConv.Layers;
using NativeConv.Tensors;
using SkiaSharp;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// What the pictures of a model (filters, feature maps, confusion) share: reading a tensor back to the host, the first
/// Conv2D of a model, the leaf layers in forward order, colours, text, and writing a PNG atomically.
/// </summary>
public static class Pictures
{
    /// <summary>Height of a title line in every picture.</summary>
    public const int TitleHeight = 24;

    /// <summary>The values of <paramref name="tensor"/> on the host (a copy; works for device tensors too).</summary>
    public static float[] ToHost(Tensor tensor)
    {
        var values = new float[tensor.Shape.Size];
        tensor.CopyTo(values);
        return values;
    }

    /// <summary>The model's layers in forward order, nested Sequentials unfolded (as <see cref="ModelSummary"/> walks them).</summary>
    public static IReadOnlyList<Module> Leaves(Module model)
    {
        var leaves = new List<Module>();
        Collect(model, leaves);
        return leaves;

        static void Collect(Module module, List<Module> into)
        {
            if (module is Sequential sequential)
                foreach (var layer in sequential.Layers) Collect(layer, into);
            else into.Add(module);
        }
    }

    /// <summary>The model's first convolution, or null for a model without one (an MLP: it gets no filter pictures).</summary>
    public static Conv2D? FirstConv(Module model) => Leaves(model).OfType<Conv2D>().FirstOrDefault();

    /// <summary>
    /// A signed value as a grey level: −<paramref name="scale"/> black, 0 mid-grey (128), +<paramref name="scale"/> white —
    /// round(127.5 + 127.5 · v / scale), clamped; NaN is drawn mid-grey. A zero scale draws everything mid-grey.
    /// </summary>
    public static byte SignedGrey(float value, float scale)
    {
        if (!(scale > 0) || float.IsNaN(value)) return 128;
        return (byte)Math.Clamp(Math.Round(127.5 + 127.5 * value / scale, MidpointRounding.AwayFromZero), 0, 255);
    }

    /// <summary>A non-negative value as a grey level: 0 black, <paramref name="max"/> white (all black when max ≤ 0).</summary>
    public static byte UnsignedGrey(float value, float max)
    {
        if (!(max > 0) || !(value > 0)) return 0;
        return (byte)Math.Clamp(Math.Round(255.0 * value / max, MidpointRounding.AwayFromZero), 0, 255);
    }

    /// <summary>A [0, 1] pixel as a byte.</summary>
    public static byte UnitByte(float unit) => (byte)Math.Clamp(MathF.Round(unit * 255f), 0, 255);

    /// <summary>A blank white bitmap of the given size (RGBA, opaque).</summary>
    public static SKBitmap NewBitmap(int width, int height)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.Erase(SKColors.White);
        return bitmap;
    }

    /// <summary>A filled axis-aligned rectangle with exact colour (no anti-aliasing: tests read the pixels back).</summary>
    public static void Fill(SKCanvas canvas, float x, float y, float width, float height, SKColor color)
    {
        using var paint = new SKPaint { Color = color, IsAntialias = false, Style = SKPaintStyle.Fill };
        canvas.DrawRect(x, y, width, height, paint);
    }

    /// <summary>Text with its baseline at (x, y).</summary>
    public static void Text(SKCanvas canvas, string text, float x, float y, float size = 13, SKTextAlign align = SKTextAlign.Left)
    {
        using var font = new SKFont(SKTypeface.Default, size);
        using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        canvas.DrawText(text, x, y, align, font, paint);
    }

    /// <summary>
    /// Draws image <paramref name="pixels"/> ((C, H, W) floats in [0, 1], C = 1 grey or 3 RGB) with its top-left corner at
    /// (x, y), each pixel a <paramref name="scale"/>-pixel square.
    /// </summary>
    public static void DrawImage(SKCanvas canvas, ReadOnlySpan<float> pixels, int channels, int height, int width, int x, int y, int scale)
    {
        int plane = height * width;
        for (int row = 0; row < height; row++)
            for (int column = 0; column < width; column++)
            {
                int i = row * width + column;
                byte r = UnitByte(pixels[i]);
                byte g = channels == 3 ? UnitByte(pixels[plane + i]) : r;
                byte b = channels == 3 ? UnitByte(pixels[2 * plane + i]) : r;
                Fill(canvas, x + column * scale, y + row * scale, scale, scale, new SKColor(r, g, b));
            }
    }

    /// <summary>Encodes <paramref name="bitmap"/> as PNG and writes it to <paramref name="path"/> atomically.</summary>
    public static void SavePng(SKBitmap bitmap, string path)
    {
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, encoded.AsSpan());
    }
}
