using SkiaSharp;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// An image that cannot be used: unreadable, not PNG/JPEG/BMP, damaged or truncated, or too large. One line: its name and
/// why. An <see cref="IOException"/>, so the CLI prints it as "error: ..." (exit code 1) without a stack trace.
/// </summary>
public sealed class ImageDecodeException : IOException
{
    public ImageDecodeException(string source, string problem, Exception? inner = null)
        : base($"Image '{source}': {problem}", inner)
    {
        ImageName = source;
        Problem = problem;
    }

    /// <summary>The file name (or the label of an in-memory image, e.g. an upload).</summary>
    public string ImageName { get; }

    /// <summary>What is wrong, without the name.</summary>
    public string Problem { get; }
}

/// <summary>How images become a model's input: its shape (C, H, W) and whether dark-on-light images are inverted.</summary>
/// <param name="InvertDarkOnLight">Invert a greyscale image whose border is light (see <see cref="ImageInput"/>); on for Fashion-MNIST models.</param>
public sealed record ImageInputOptions(int Channels, int Height, int Width, bool InvertDarkOnLight)
{
    /// <summary>The input of <paramref name="model"/>; inversion on for its Fashion-MNIST (1-channel) models.</summary>
    public static ImageInputOptions For(TrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (c, h, w) = model.InputShape;
        return new ImageInputOptions(c, h, w, InvertDarkOnLight: c == 1);
    }

    public int SampleSize => Channels * Height * Width;
}

/// <summary>What decoding found: the encoded format, the image's own size, and whether it was inverted.</summary>
public readonly record struct DecodedImage(string Format, int SourceWidth, int SourceHeight, bool Inverted);

/// <summary>
/// Turns PNG, JPEG and BMP images into a model's input, the way the training data looks:
/// <list type="number">
/// <item>decoded with SkiaSharp into 8-bit RGBA (unpremultiplied), turned upright by its EXIF orientation (JPEG photos);
///   a transparent pixel is composited over white;</item>
/// <item>for a 1-channel model, converted to grey: a pixel with R = G = B keeps that value exactly, others take the luma
///   0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as PIL's "L" mode);</item>
/// <item>scaled to [0,1] as value / 255 — no standardisation, exactly as <c>Dataset.ToUnitFloats</c> does for training;</item>
/// <item>resized to the model's H × W with an <b>area filter</b> computed here: each output pixel is the average of the
///   source pixels it covers, weighted by the overlapping area (OpenCV's INTER_AREA for downscaling; for upscaling it is
///   nearest-neighbour with area-weighted blends at the seams). The aspect ratio is not kept (the image is stretched).
///   Same size is the identity, so a 28×28 or 32×32 image gives back its pixels exactly. Computed here rather than
///   with SkiaSharp's SKSamplingOptions (mipmaps blended linearly, its "high quality"), which only approximates an area
///   average and whose exact weights depend on the Skia version;</item>
/// <item>Fashion-MNIST (when <see cref="ImageInputOptions.InvertDarkOnLight"/>): the dataset shows light garments on a black
///   background. An image whose border — the outermost ring of pixels of the resized grey image — has a mean above 0.5
///   is taken as dark-on-light (a photo on white paper, a drawing) and inverted, v → 1 − v;</item>
/// <item>written as NCHW floats: channel planes of H × W, rows top to bottom (R, G, B for 3-channel models).</item>
/// </list>
/// Images over <see cref="MaxPixels"/> pixels are refused before their pixels are decoded.
/// </summary>
public static class ImageInput
{
    /// <summary>The largest image decoded: 40 megapixels (160 MB of RGBA), far above any photo a user would classify.</summary>
    public const long MaxPixels = 40_000_000;

    /// <summary>The mean border grey above which a greyscale image counts as dark-on-light.</summary>
    public const float DarkOnLightThreshold = 0.5f;

    /// <summary>Reads and decodes the image file at <paramref name="path"/> into a new array of <see cref="ImageInputOptions.SampleSize"/> floats.</summary>
    public static float[] DecodeFile(string path, ImageInputOptions options) => DecodeFile(path, options, out _);

    /// <inheritdoc cref="DecodeFile(string, ImageInputOptions)"/>
    public static float[] DecodeFile(string path, ImageInputOptions options, out DecodedImage decoded)
    {
        ArgumentNullException.ThrowIfNull(options);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot be read ({e.Message}).", e);
        }
        var pixels = new float[options.SampleSize];
        decoded = Decode(bytes, path, options, pixels);
        return pixels;
    }

    /// <summary>
    /// Decodes an encoded image (<paramref name="source"/> names it in errors) into <paramref name="destination"/>
    /// (<see cref="ImageInputOptions.SampleSize"/> floats, CHW). Throws <see cref="ImageDecodeException"/> when it cannot.
    /// </summary>
    public static DecodedImage Decode(ReadOnlySpan<byte> encoded, string source, ImageInputOptions options, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Channels is not (1 or 3) || options.Height < 1 || options.Width < 1)
            throw new ArgumentException($"ImageInput: the input must be 1 or 3 channels of at least 1×1; got ({options.Channels}, {options.Height}, {options.Width}).");
        if (destination.Length != options.SampleSize)
            throw new ArgumentException($"ImageInput: the destination holds {destination.Length} floats; ({options.Channels}, {options.Height}, {options.Width}) needs {options.SampleSize}.");
        if (encoded.Length == 0)
            throw new ImageDecodeException(source, "the file is empty.");

        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        if (codec is null)
            throw new ImageDecodeException(source, $"not a PNG, JPEG or BMP image (SkiaSharp recognises no image format in its {encoded.Length} bytes).");
        string format = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Png => "PNG",
            SKEncodedImageFormat.Jpeg => "JPEG",
            SKEncodedImageFormat.Bmp => "BMP",
            var other => throw new ImageDecodeException(source, $"a {other} image; only PNG, JPEG and BMP are accepted."),
        };
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
            throw new ImageDecodeException(source, $"the {format} image has no pixels ({width}×{height}).");
        if ((long)width * height > MaxPixels)
            throw new ImageDecodeException(source, $"the {format} image is {width}×{height}, more than the {MaxPixels / 1_000_000} megapixels accepted.");

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
            throw new ImageDecodeException(source, result == SKCodecResult.IncompleteInput
                ? $"the {format} data ends early (truncated file)."
                : $"the {format} data cannot be decoded (SkiaSharp: {result}).");

        ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
        if (codec.EncodedOrigin != SKEncodedOrigin.TopLeft)
            (rgba, width, height) = Orient(rgba, width, height, codec.EncodedOrigin);
        int planeSize = width * height;
        var planes = new float[options.Channels * planeSize];
        ToUnitPlanes(rgba, options.Channels, planes);

        int outPlane = options.Height * options.Width;
        for (int c = 0; c < options.Channels; c++)
            AreaResize(planes.AsSpan(c * planeSize, planeSize), width, height,
                destination.Slice(c * outPlane, outPlane), options.Width, options.Height);

        bool inverted = options.Channels == 1 && options.InvertDarkOnLight
                        && BorderMean(destination, options.Width, options.Height) > DarkOnLightThreshold;
        if (inverted)
            for (int i = 0; i < destination.Length; i++) destination[i] = 1f - destination[i];
        return new DecodedImage(format, width, height, inverted);
    }

    /// <summary>
    /// The pixels as they are meant to be seen: a camera's EXIF orientation (a phone photo is stored sideways with a tag
    /// saying so) applied to the stored RGBA pixels. Returns the upright pixels and their width and height.
    /// </summary>
    internal static (byte[] Pixels, int Width, int Height) Orient(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedOrigin origin)
    {
        ReadOnlySpan<uint> stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(rgba);
        bool swaps = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int uprightWidth = swaps ? height : width, uprightHeight = swaps ? width : height;
        var upright = new byte[rgba.Length];
        var pixels = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(upright.AsSpan());
        for (int y = 0; y < uprightHeight; y++)
            for (int x = 0; x < uprightWidth; x++)
            {
                // The stored pixel shown at upright (x, y).
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (width - 1 - x, y),                  // mirrored left-right
                    SKEncodedOrigin.BottomRight => (width - 1 - x, height - 1 - y),  // rotated 180°
                    SKEncodedOrigin.BottomLeft => (x, height - 1 - y),               // mirrored top-bottom
                    SKEncodedOrigin.LeftTop => (y, x),                               // transposed
                    SKEncodedOrigin.RightTop => (y, height - 1 - x),                 // stored 90° counter-clockwise
                    SKEncodedOrigin.RightBottom => (width - 1 - y, height - 1 - x),  // transversed
                    SKEncodedOrigin.LeftBottom => (width - 1 - y, x),                // stored 90° clockwise
                    _ => (x, y),
                };
                pixels[y * uprightWidth + x] = stored[sy * width + sx];
            }
        return (upright, uprightWidth, uprightHeight);
    }

    /// <summary>RGBA bytes → [0,1] planes: grey (1 channel) or R, G, B (3 channels); alpha composited over white.</summary>
    private static void ToUnitPlanes(ReadOnlySpan<byte> rgba, int channels, Span<float> planes)
    {
        int pixels = rgba.Length / 4;
        for (int i = 0; i < pixels; i++)
        {
            int r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
            if (a != 255)
            {
                // Over white: c·α + 255·(1 − α), rounded to the nearest byte like any 8-bit compositing.
                r = (r * a + 255 * (255 - a) + 127) / 255;
                g = (g * a + 255 * (255 - a) + 127) / 255;
                b = (b * a + 255 * (255 - a) + 127) / 255;
            }
            if (channels == 1)
            {
                // value / 255f, as the training data: exact for grey pixels (R = G = B).
                planes[i] = r == g && g == b ? r / 255f : (float)((0.299 * r + 0.587 * g + 0.114 * b) / 255.0);
            }
            else
            {
                planes[i] = r / 255f;
                planes[pixels + i] = g / 255f;
                planes[2 * pixels + i] = b / 255f;
            }
        }
    }

    /// <summary>
    /// Area resampling of one plane: output pixel (x, y) covers source [x·sx, (x+1)·sx) × [y·sy, (y+1)·sy) with
    /// sx = W/w, sy = H/h, and averages the source pixels weighted by their overlap with it. Equal sizes copy exactly.
    /// </summary>
    private static void AreaResize(ReadOnlySpan<float> source, int sourceWidth, int sourceHeight, Span<float> target, int width, int height)
    {
        if (sourceWidth == width && sourceHeight == height)
        {
            source.CopyTo(target);
            return;
        }
        double sx = (double)sourceWidth / width, sy = (double)sourceHeight / height;
        for (int y = 0; y < height; y++)
        {
            double y0 = y * sy, y1 = (y + 1) * sy;
            int firstRow = (int)Math.Floor(y0), lastRow = Math.Min(sourceHeight - 1, (int)Math.Ceiling(y1) - 1);
            for (int x = 0; x < width; x++)
            {
                double x0 = x * sx, x1 = (x + 1) * sx;
                int firstColumn = (int)Math.Floor(x0), lastColumn = Math.Min(sourceWidth - 1, (int)Math.Ceiling(x1) - 1);
                double sum = 0, area = 0;
                for (int row = firstRow; row <= lastRow; row++)
                {
                    double wy = Math.Min(y1, row + 1) - Math.Max(y0, row);
                    if (wy <= 0) continue;
                    for (int column = firstColumn; column <= lastColumn; column++)
                    {
                        double wx = Math.Min(x1, column + 1) - Math.Max(x0, column);
                        if (wx <= 0) continue;
                        sum += wx * wy * source[row * sourceWidth + column];
                        area += wx * wy;
                    }
                }
                target[y * width + x] = (float)(sum / area);
            }
        }
    }

    /// <summary>Mean of the outermost ring of pixels of a plane (every pixel once).</summary>
    internal static float BorderMean(ReadOnlySpan<float> plane, int width, int height)
    {
        double sum = 0;
        int count = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (y != 0 && y != height - 1 && x != 0 && x != width - 1) continue;
                sum += plane[y * width + x];
                count++;
            }
        return (float)(sum / count);
    }
}
