using NativeConv.Layers.Init;

namespace NativeConv.Tests.EndToEnd;

/// <summary>
/// A synthetic image task generated in the test: 16×16 grey images holding one bar — vertical (class 0), horizontal
/// (class 1) or diagonal in either direction (class 2) — 7 pixels long, at a random position, over Gaussian-ish noise.
/// Orientation must be recognised wherever the bar sits: local, translation-invariant features (a convolution's job),
/// which a dense layer has to learn separately for every position.
/// </summary>
public static class OrientedBars
{
    public const int Size = 16;
    public const int Classes = 3;
    private const int Length = 7;

    /// <summary><paramref name="count"/> images (count, 1, 16, 16) flattened row-major, and their labels as floats.</summary>
    public static (float[] Images, float[] Labels) Generate(int count, ulong seed, float noise = 0.35f)
    {
        var rng = new SplitMix64(seed);
        var images = new float[count * Size * Size];
        var labels = new float[count];
        for (int n = 0; n < count; n++)
        {
            var image = images.AsSpan(n * Size * Size, Size * Size);
            // Noise: the sum of three uniforms, roughly normal with standard deviation `noise`.
            for (int i = 0; i < image.Length; i++)
                image[i] = noise * (rng.NextFloat(-1f, 1f) + rng.NextFloat(-1f, 1f) + rng.NextFloat(-1f, 1f));

            int label = rng.NextInt(Classes);
            labels[n] = label;
            int dy, dx;
            switch (label)
            {
                case 0: dy = 1; dx = 0; break;
                case 1: dy = 0; dx = 1; break;
                default: dy = 1; dx = rng.NextInt(2) == 0 ? 1 : -1; break;
            }
            // A start point that keeps the whole bar inside the image.
            int rowSpan = dy == 0 ? Size : Size - (Length - 1);
            int y0 = rng.NextInt(rowSpan);
            int x0 = dx switch
            {
                0 => rng.NextInt(Size),
                1 => rng.NextInt(Size - (Length - 1)),
                _ => Length - 1 + rng.NextInt(Size - (Length - 1)),
            };
            for (int k = 0; k < Length; k++) image[(y0 + k * dy) * Size + x0 + k * dx] += 1.5f;
        }
        return (images, labels);
    }
}
