using NativeConv.Experiments.Data;
using NativeConv.Layers.Init;

namespace NativeConv.Tests.Training;

/// <summary>Tiny in-memory image sets for trainer and report tests.</summary>
public static class SyntheticImages
{
    /// <summary>
    /// 1×4×4 images of 3 classes: class c lights up a 2×2 block in its own corner, plus noise. With
    /// <paramref name="randomLabels"/> the labels are unrelated to the pixels (a model can only memorise them).
    /// </summary>
    public static Dataset Create(string name, int count, int seed, bool randomLabels = false)
    {
        var rng = new SplitMix64((ulong)seed);
        var images = new float[count * 16];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int c = rng.NextInt(3);
            labels[i] = (byte)(randomLabels ? rng.NextInt(3) : c);
            var image = images.AsSpan(i * 16, 16);
            for (int p = 0; p < 16; p++) image[p] = 0.3f * rng.NextFloat();
            int row = c == 1 ? 2 : 0, col = c == 2 ? 2 : 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) image[(row + dy) * 4 + col + dx] += 0.7f;
        }
        return new Dataset(name, images, labels, ["a", "b", "c"], 1, 4, 4);
    }
}
