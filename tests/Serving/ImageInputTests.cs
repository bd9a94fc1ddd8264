using NativeConv.Experiments.Data;
using NativeConv.Experiments.Serving;
using NativeConv.Tests.Data;
using SkiaSharp;

namespace NativeConv.Tests.Serving;

/// <summary>Images written with SkiaSharp from real test-set pixels decode back to the dataset's own tensor.</summary>
public sealed class ImageInputTests : IClassFixture<FashionMnistFixture>, IClassFixture<Cifar10Fixture>, IDisposable
{
    /// <summary>
    /// JPEG is lossy: at quality 95 the decoded pixels of 50 test images stay within these bounds of the originals ([0,1]
    /// scale). Measured (SkiaSharp 3.119's libjpeg-turbo): Fashion-MNIST mean 0.0035, max 0.035; CIFAR-10 (chroma
    /// subsampled) mean 0.0033, max 0.110.
    /// </summary>
    private const double JpegMeanError = 0.01;
    private const float JpegMaxError = 0.15f;

    private static readonly ImageInputOptions Fashion = new(1, 28, 28, InvertDarkOnLight: true);
    private static readonly ImageInputOptions Cifar = new(3, 32, 32, InvertDarkOnLight: false);

    private readonly Dataset _fashion;
    private readonly Dataset _cifar;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-images-" + Guid.NewGuid().ToString("N"));

    public ImageInputTests(FashionMnistFixture fashion, Cifar10Fixture cifar)
    {
        _fashion = fashion.Test;
        _cifar = cifar.Test;
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static float[] Decode(byte[] bytes, ImageInputOptions options, out DecodedImage decoded)
    {
        var pixels = new float[options.SampleSize];
        decoded = ImageInput.Decode(bytes, "test image", options, pixels);
        return pixels;
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "PNG")]
    [InlineData(SKEncodedImageFormat.Bmp, "BMP")]
    public void LosslessFilesOfFashionMnistDecodeToTheDatasetsExactPixels(SKEncodedImageFormat format, string name)
    {
        for (int i = 0; i < 50; i++)
        {
            var expected = _fashion.Image(i).ToArray();
            var pixels = Decode(TestImages.Encode(expected, 1, 28, 28, format), Fashion, out var decoded);
            Assert.Equal(name, decoded.Format);
            Assert.Equal((28, 28), (decoded.SourceWidth, decoded.SourceHeight));
            Assert.False(decoded.Inverted); // light garment on black: kept as it is
            Assert.Equal(expected, pixels);
        }
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Bmp)]
    public void LosslessFilesOfCifarDecodeToTheDatasetsExactPixels(SKEncodedImageFormat format)
    {
        for (int i = 0; i < 50; i++)
        {
            var expected = _cifar.Image(i).ToArray();
            var pixels = Decode(TestImages.Encode(expected, 3, 32, 32, format), Cifar, out var decoded);
            Assert.False(decoded.Inverted);
            Assert.Equal(expected, pixels);
        }
    }

    [Fact]
    public void JpegFilesDecodeWithinTheStatedTolerance()
    {
        foreach (var (data, options) in new[] { (_fashion, Fashion), (_cifar, Cifar) })
        {
            double sum = 0;
            float max = 0;
            int count = 0;
            for (int i = 0; i < 50; i++)
            {
                var expected = data.Image(i).ToArray();
                var pixels = Decode(TestImages.Encode(expected, options.Channels, options.Height, options.Width, SKEncodedImageFormat.Jpeg, quality: 95), options, out var decoded);
                Assert.Equal("JPEG", decoded.Format);
                for (int k = 0; k < pixels.Length; k++)
                {
                    float error = Math.Abs(pixels[k] - expected[k]);
                    sum += error;
                    max = Math.Max(max, error);
                    count++;
                }
            }
            Assert.True(sum / count <= JpegMeanError, $"{data.Name}: mean JPEG error {sum / count:F4} > {JpegMeanError}");
            Assert.True(max <= JpegMaxError, $"{data.Name}: max JPEG error {max:F4} > {JpegMaxError}");
        }
    }

    [Fact]
    public void ADarkOnLightImageIsInvertedForFashionMnistOnly()
    {
        var original = _fashion.Image(0).ToArray();
        var negative = original.Select(v => 1f - v).ToArray();
        var bytes = TestImages.Encode(negative, 1, 28, 28, SKEncodedImageFormat.Png);

        var pixels = Decode(bytes, Fashion, out var decoded);
        Assert.True(decoded.Inverted);
        for (int k = 0; k < pixels.Length; k++) Assert.Equal(original[k], pixels[k], 1e-6f);

        var kept = Decode(bytes, Fashion with { InvertDarkOnLight = false }, out decoded);
        Assert.False(decoded.Inverted);
        for (int k = 0; k < kept.Length; k++) Assert.Equal(negative[k], kept[k], 1e-6f);
    }

    [Fact]
    public void TheBorderRuleDecidesAtHalfGrey()
    {
        // A uniform image just below and just above the threshold (bytes 127 → 0.498, 128 → 0.502).
        var dark = Enumerable.Repeat(127 / 255f, 784).ToArray();
        var light = Enumerable.Repeat(128 / 255f, 784).ToArray();
        Decode(TestImages.Encode(dark, 1, 28, 28, SKEncodedImageFormat.Png), Fashion, out var decoded);
        Assert.False(decoded.Inverted);
        Decode(TestImages.Encode(light, 1, 28, 28, SKEncodedImageFormat.Png), Fashion, out decoded);
        Assert.True(decoded.Inverted);
    }

    [Fact]
    public void ALargerImageIsAreaAveragedDownToTheModelsSize()
    {
        // Each pixel repeated 3×3 (84×84): the area average of nine equal values gives the pixel back exactly.
        var original = _fashion.Image(3).ToArray();
        var large = new float[84 * 84];
        for (int y = 0; y < 84; y++)
            for (int x = 0; x < 84; x++) large[y * 84 + x] = original[(y / 3) * 28 + x / 3];
        var pixels = Decode(TestImages.Encode(large, 1, 84, 84, SKEncodedImageFormat.Png), Fashion, out var decoded);
        Assert.Equal((84, 84), (decoded.SourceWidth, decoded.SourceHeight));
        Assert.Equal(original, pixels);

        // A 2×2 checkerboard of 0 and 1 averaged into one pixel per 2×2 block: 0.5 everywhere (not a sampled 0 or 1).
        var checker = new float[56 * 56];
        for (int y = 0; y < 56; y++)
            for (int x = 0; x < 56; x++) checker[y * 56 + x] = (x + y) % 2;
        var averaged = Decode(TestImages.Encode(checker, 1, 56, 56, SKEncodedImageFormat.Png), Fashion with { InvertDarkOnLight = false }, out _);
        Assert.All(averaged, v => Assert.Equal(0.5f, v));

        // A non-integer ratio (3×3 → 2×2): each output pixel covers 1.5 × 1.5 source pixels, the middle row and column
        // split half and half. A cross of ones on zeros: (0·1 + 1·½ + 1·½ + 1·¼) / 2.25 = 5/9 in every output pixel.
        float[] cross = [0, 1, 0, 1, 1, 1, 0, 1, 0];
        var small = Decode(TestImages.Encode(cross, 1, 3, 3, SKEncodedImageFormat.Png), new ImageInputOptions(1, 2, 2, false), out _);
        Assert.All(small, v => Assert.Equal(5f / 9f, v, 1e-6f));
    }

    [Fact]
    public void ColourBecomesGreyByLumaAndTransparencyIsCompositedOverWhite()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(2, 1, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var p = bitmap.GetPixelSpan();
        p[0] = 200; p[1] = 100; p[2] = 50; p[3] = 255;  // opaque orange
        p[4] = 0; p[5] = 0; p[6] = 0; p[7] = 0;         // fully transparent: white
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var grey = Decode(data.ToArray(), new ImageInputOptions(1, 1, 2, false), out _);
        Assert.Equal((0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255, grey[0], 1e-6);
        Assert.Equal(1f, grey[1]);
        var rgb = Decode(data.ToArray(), new ImageInputOptions(3, 1, 2, false), out _);
        Assert.Equal([200 / 255f, 1f, 100 / 255f, 1f, 50 / 255f, 1f], rgb);
    }

    [Theory]
    [InlineData(SKEncodedOrigin.TopLeft, 3, 2, "abcdef")]
    [InlineData(SKEncodedOrigin.TopRight, 3, 2, "cbafed")]
    [InlineData(SKEncodedOrigin.BottomRight, 3, 2, "fedcba")]
    [InlineData(SKEncodedOrigin.BottomLeft, 3, 2, "defabc")]
    [InlineData(SKEncodedOrigin.LeftTop, 2, 3, "adbecf")]
    [InlineData(SKEncodedOrigin.RightTop, 2, 3, "daebfc")]     // shown rotated 90° clockwise
    [InlineData(SKEncodedOrigin.RightBottom, 2, 3, "fcebda")]
    [InlineData(SKEncodedOrigin.LeftBottom, 2, 3, "cfbead")]   // shown rotated 90° counter-clockwise
    public void EveryExifOrientationIsTurnedUpright(SKEncodedOrigin origin, int width, int height, string expected)
    {
        // Stored 3 × 2: a b c / d e f (one byte per pixel tells them apart; the other three bytes ride along).
        var stored = new byte[6 * 4];
        for (int i = 0; i < 6; i++) { stored[4 * i] = (byte)('a' + i); stored[4 * i + 3] = 255; }
        var (pixels, w, h) = ImageInput.Orient(stored, 3, 2, origin);
        Assert.Equal((width, height), (w, h));
        Assert.Equal(expected, new string(Enumerable.Range(0, 6).Select(i => (char)pixels[4 * i]).ToArray()));
    }

    [Fact]
    public void AJpegPhotoStoredSidewaysWithAnExifOrientationIsDecodedUpright()
    {
        // A CIFAR image stored turned 90° counter-clockwise, tagged orientation 6 ("rotate 90° clockwise to show").
        var upright = _cifar.Image(12).ToArray();
        var stored = new float[upright.Length];
        for (int c = 0; c < 3; c++)
            for (int sy = 0; sy < 32; sy++)
                for (int sx = 0; sx < 32; sx++) stored[c * 1024 + sy * 32 + sx] = upright[c * 1024 + sx * 32 + (31 - sy)];
        var jpeg = TestImages.Encode(stored, 3, 32, 32, SKEncodedImageFormat.Jpeg, quality: 95);
        // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112, SHORT) = 6, right after SOI.
        byte[] exif =
        [
            0xFF, 0xE1, 0x00, 0x22, (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0,
            (byte)'M', (byte)'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,
            0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        byte[] tagged = [.. jpeg[..2], .. exif, .. jpeg[2..]];

        var decoded = Decode(tagged, Cifar, out _);
        var untagged = Decode(jpeg, Cifar, out _);
        double MeanError(float[] pixels) => pixels.Zip(upright, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(MeanError(decoded) <= JpegMeanError, $"upright: mean error {MeanError(decoded):F4}");
        Assert.True(MeanError(untagged) > 5 * JpegMeanError, $"the sideways image should differ: {MeanError(untagged):F4}");
    }

    // ---------------------------------------------------------------- bad images

    private static string OneLineError(byte[] bytes, string name = "upload.png")
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageInput.Decode(bytes, name, Fashion, new float[784]));
        Assert.StartsWith($"Image '{name}': ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Problem;
    }

    [Fact]
    public void AnEmptyFileIsRefused() => Assert.Contains("empty", OneLineError([]));

    [Fact]
    public void BytesThatAreNoImageAreRefused() =>
        Assert.Contains("not a PNG, JPEG or BMP image", OneLineError("this is a text file, not a picture"u8.ToArray()));

    [Fact]
    public void ATruncatedPngIsRefused()
    {
        var bytes = TestImages.Encode(_cifar.Image(0), 3, 32, 32, SKEncodedImageFormat.Png);
        Assert.Contains("truncated", OneLineError(bytes[..(bytes.Length / 2)]));
    }

    [Fact]
    public void ATruncatedJpegIsRefused()
    {
        var bytes = TestImages.Encode(_cifar.Image(0), 3, 32, 32, SKEncodedImageFormat.Jpeg, 90);
        Assert.Contains("truncated", OneLineError(bytes[..(bytes.Length / 2)], "photo.jpg"));
    }

    [Fact]
    public void AnotherImageFormatIsRefused()
    {
        var bytes = TestImages.Encode(_fashion.Image(0), 1, 28, 28, SKEncodedImageFormat.Webp, 90);
        Assert.Contains("a Webp image; only PNG, JPEG and BMP are accepted", OneLineError(bytes, "x.webp"));
    }

    [Fact]
    public void AMissingFileIsRefusedByName()
    {
        string path = Path.Combine(_folder, "missing.png");
        var e = Assert.Throws<ImageDecodeException>(() => ImageInput.DecodeFile(path, Fashion));
        Assert.StartsWith($"Image '{path}': cannot be read", e.Message);
    }

    [Fact]
    public void DecodeFileReadsTheFile()
    {
        string path = Path.Combine(_folder, "shirt.png");
        File.WriteAllBytes(path, TestImages.Encode(_fashion.Image(7), 1, 28, 28, SKEncodedImageFormat.Png));
        Assert.Equal(_fashion.Image(7).ToArray(), ImageInput.DecodeFile(path, Fashion));
    }
}
