using System.Collections.Concurrent;
using NativeConv.Experiments.Serving;
using SkiaSharp;

namespace NativeConv.Tests.Serving;

/// <summary>
/// A small deterministic classifier for the server's tests: 1×4×4 inputs (the decoded image's grey levels sampled at the
/// centres of a 4×4 grid), 4 classes, probabilities = softmax(W·x + b) with fixed weights. It records every forward's
/// batch size and can be held (<see cref="Hold"/>: forwards block until <see cref="Release"/>) or made to fail.
/// </summary>
internal sealed class ServeTestClassifier : IImageClassifier
{
    public const int Side = 4;
    private readonly ManualResetEventSlim _open = new(initialState: true);
    private readonly SemaphoreSlim _entered = new(0);

    public ServedModelInfo Info { get; } = new(
        "test-model", "synthetic", 1, Side, Side, ["zero", "one", "two", "three"], ParameterCount: 4 * 16 + 4,
        TestAccuracy: 0.875, [new ServedLayer("dense", "Dense", [null, 4], 68)], "grey levels at a 4×4 grid's centres");

    /// <summary>Batch sizes of the forwards run, in order.</summary>
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    /// <summary>When set, every forward throws this.</summary>
    public Exception? Failure { get; set; }

    /// <summary>From now on forwards block (after announcing themselves to <see cref="WaitForForwardAsync"/>) until <see cref="Release"/>.</summary>
    public void Hold() => _open.Reset();

    public void Release() => _open.Set();

    /// <summary>Waits until a forward has started (and, when held, is blocked).</summary>
    public async Task WaitForForwardAsync(TimeSpan timeout)
    {
        if (!await _entered.WaitAsync(timeout)) throw new TimeoutException("no forward started");
    }

    public void Decode(ReadOnlySpan<byte> encoded, string source, Span<float> sample)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new ImageDecodeException(source, "not a PNG, JPEG or BMP image the decoder can read");
        using var bitmap = SKBitmap.Decode(codec) ?? throw new ImageDecodeException(source, "the image is damaged: the decoder could not read its pixels");
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                var c = bitmap.GetPixel((2 * x + 1) * bitmap.Width / (2 * Side), (2 * y + 1) * bitmap.Height / (2 * Side));
                sample[y * Side + x] = (c.Red + c.Green + c.Blue) / (3 * 255f);
            }
    }

    public void Classify(ReadOnlySpan<float> samples, int count, Span<float> probabilities)
    {
        BatchSizes.Enqueue(count);
        _entered.Release();
        _open.Wait(TimeSpan.FromSeconds(30));
        if (Failure is { } failure) throw failure;
        Reference(samples, count, probabilities);
    }

    /// <summary>The model's probabilities without any bookkeeping: what a correct server must answer.</summary>
    public static void Reference(ReadOnlySpan<float> samples, int count, Span<float> probabilities)
    {
        const int classes = 4, inputs = Side * Side;
        Span<float> logits = stackalloc float[classes];
        for (int n = 0; n < count; n++)
        {
            var x = samples.Slice(n * inputs, inputs);
            float max = float.NegativeInfinity;
            for (int k = 0; k < classes; k++)
            {
                float sum = 0.1f * k;
                for (int j = 0; j < inputs; j++) sum += MathF.Sin(1.3f * k + 0.7f * j + 0.5f) * 3f * x[j];
                logits[k] = sum;
                max = MathF.Max(max, sum);
            }
            float total = 0;
            for (int k = 0; k < classes; k++) total += logits[k] = MathF.Exp(logits[k] - max);
            for (int k = 0; k < classes; k++) probabilities[n * classes + k] = logits[k] / total;
        }
    }

    /// <summary>The probabilities a correct server answers for <paramref name="image"/>.</summary>
    public float[] Expected(byte[] image)
    {
        var sample = new float[Info.InputLength];
        Decode(image, "test", sample);
        var probabilities = new float[Info.ClassCount];
        Reference(sample, 1, probabilities);
        return probabilities;
    }
}

/// <summary>Small encoded test images: a seeded pattern as PNG, JPEG or BMP bytes.</summary>
internal static class ServeImages
{
    public static SKBitmap Pattern(int seed, int size = 28)
    {
        var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rng = new Random(seed);
        // Blocks of one grey level per 4×4 grid cell, so the test classifier's samples do not depend on the encoder's
        // rounding at cell edges (JPEG stays close; PNG and BMP are exact).
        var levels = new byte[16];
        rng.NextBytes(levels);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                byte v = levels[y * 4 / size * 4 + x * 4 / size];
                bitmap.SetPixel(x, y, new SKColor(v, v, v));
            }
        return bitmap;
    }

    public static byte[] Png(int seed, int size = 28)
    {
        using var bitmap = Pattern(seed, size);
        return bitmap.Encode(SKEncodedImageFormat.Png, 100).ToArray();
    }

    /// <summary>Random pixels as PNG: an image that does not compress (for the size limit).</summary>
    public static byte[] NoisePng(int seed, int size)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rng = new Random(seed);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) bitmap.SetPixel(x, y, new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)));
        return bitmap.Encode(SKEncodedImageFormat.Png, 100).ToArray();
    }

    public static byte[] Jpeg(int seed, int size = 28)
    {
        using var bitmap = Pattern(seed, size);
        return bitmap.Encode(SKEncodedImageFormat.Jpeg, 95).ToArray();
    }

    /// <summary>A 24-bit BMP (Skia decodes BMP but does not encode it): the 54-byte header and bottom-up BGR rows.</summary>
    public static byte[] Bmp(int seed, int size = 28)
    {
        using var bitmap = Pattern(seed, size);
        int stride = (size * 3 + 3) & ~3;
        var bytes = new byte[54 + stride * size];
        void Int(int at, int value) => BitConverter.TryWriteBytes(bytes.AsSpan(at, 4), value);
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        Int(2, bytes.Length);
        Int(10, 54);
        Int(14, 40);
        Int(18, size);
        Int(22, size);
        BitConverter.TryWriteBytes(bytes.AsSpan(26, 2), (short)1);
        BitConverter.TryWriteBytes(bytes.AsSpan(28, 2), (short)24);
        Int(34, stride * size);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                var c = bitmap.GetPixel(x, size - 1 - y);
                int at = 54 + y * stride + 3 * x;
                bytes[at] = c.Blue;
                bytes[at + 1] = c.Green;
                bytes[at + 2] = c.Red;
            }
        return bytes;
    }
}
