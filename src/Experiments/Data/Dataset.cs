using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Experiments.Data;

/// <summary>
/// An in-memory image classification set: images as float32 NCHW scaled to [0,1] (pixel / 255f, no standardisation),
/// one label per image (0..ClassNames.Length-1), the class names and the per-image shape (C, H, W).
/// </summary>
public sealed class Dataset
{
    public Dataset(string name, float[] images, byte[] labels, string[] classNames, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"Dataset '{name}': shape (C,H,W) must be positive, got ({channels},{height},{width}).");
        long sample = (long)channels * height * width;
        if (images.LongLength != sample * labels.LongLength)
            throw new ArgumentException(
                $"Dataset '{name}': {images.Length:N0} floats do not hold {labels.Length:N0} images of ({channels},{height},{width}) = {sample * labels.LongLength:N0}.");
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classNames.Length)
                throw new ArgumentException($"Dataset '{name}': label {i} is {labels[i]}, but there are only {classNames.Length} classes.");
        }
        Name = name;
        Images = images;
        Labels = labels;
        ClassNames = classNames;
        Shape = (channels, height, width);
    }

    /// <summary>E.g. "fashion-mnist/train"; used in messages and reports.</summary>
    public string Name { get; }

    /// <summary>Count × C × H × W floats in [0,1], NCHW (image-major, then channel, row, column).</summary>
    public float[] Images { get; }

    public byte[] Labels { get; }
    public string[] ClassNames { get; }
    public (int C, int H, int W) Shape { get; }
    public int Count => Labels.Length;
    public int ClassCount => ClassNames.Length;

    /// <summary>Floats per image: C × H × W.</summary>
    public int SampleSize => Shape.C * Shape.H * Shape.W;

    /// <summary>The pixels of image <paramref name="index"/> (C × H × W floats).</summary>
    public ReadOnlySpan<float> Image(int index) => Images.AsSpan(index * SampleSize, SampleSize);

    /// <summary>How many images each class has.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[ClassCount];
        foreach (byte label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>A new dataset holding the images at <paramref name="indices"/>, in that order (copies the pixels).</summary>
    public Dataset Select(ReadOnlySpan<int> indices, string? name = null)
    {
        int sample = SampleSize;
        var images = new float[(long)indices.Length * sample];
        var labels = new byte[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int source = indices[i];
            if ((uint)source >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"Dataset '{Name}': index {source} is outside 0..{Count - 1}.");
            Images.AsSpan(source * sample, sample).CopyTo(images.AsSpan(i * sample, sample));
            labels[i] = Labels[source];
        }
        return new Dataset(name ?? Name, images, labels, ClassNames, Shape.C, Shape.H, Shape.W);
    }

    /// <summary>
    /// Splits off a validation set: a seeded, STRATIFIED split — each class gives the same fraction (the total is
    /// round(Count × fraction), the per-class shares rounded by largest remainder). Same seed → same split. Both parts
    /// keep the original order of the images.
    /// </summary>
    public (Dataset Train, Dataset Validation) SplitValidation(double fraction = 0.1, int seed = 0)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentOutOfRangeException(nameof(fraction), $"Validation fraction must lie strictly between 0 and 1, got {fraction}.");
        int validationCount = (int)Math.Round(Count * fraction, MidpointRounding.AwayFromZero);
        if (validationCount == 0 || validationCount == Count)
            throw new ArgumentException($"Dataset '{Name}': a validation fraction of {fraction} of {Count} images leaves one side empty.");
        var (picked, remaining) = StratifiedPick(Labels, ClassCount, validationCount, seed);
        return (Select(remaining, Name + "[train]"), Select(picked, Name + "[validation]"));
    }

    /// <summary>
    /// A seeded, stratified random subset of <paramref name="count"/> images (for --limit N); the whole set when
    /// count ≥ Count. Keeps the original order.
    /// </summary>
    public Dataset Limit(int count, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (count >= Count) return this;
        var (picked, _) = StratifiedPick(Labels, ClassCount, count, seed);
        return Select(picked, $"{Name}[limit {count}]");
    }

    /// <summary>
    /// Picks <paramref name="count"/> of the indices 0..labels.Length-1 so each class contributes its share (floor of
    /// count × classSize / total, the remaining picks going to the largest remainders, ties to the lower class), chosen
    /// within each class by a seeded Fisher–Yates shuffle. Returns the picked and the remaining indices, each ascending.
    /// </summary>
    public static (int[] Picked, int[] Remaining) StratifiedPick(byte[] labels, int classCount, int count, int seed)
    {
        int total = labels.Length;
        if ((uint)count > (uint)total)
            throw new ArgumentOutOfRangeException(nameof(count), $"Cannot pick {count} of {total} items.");

        var byClass = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) byClass[c] = new List<int>();
        for (int i = 0; i < total; i++) byClass[labels[i]].Add(i);

        // Largest-remainder apportionment of `count` over the classes.
        var share = new int[classCount];
        var remainder = new long[classCount];
        int assigned = 0;
        for (int c = 0; c < classCount; c++)
        {
            long numerator = (long)count * byClass[c].Count;
            share[c] = (int)(numerator / Math.Max(total, 1));
            remainder[c] = numerator % Math.Max(total, 1);
            assigned += share[c];
        }
        while (assigned < count)
        {
            int best = -1;
            for (int c = 0; c < classCount; c++)
            {
                if (share[c] < byClass[c].Count && (best < 0 || remainder[c] > remainder[best])) best = c;
            }
            share[best]++;
            remainder[best] = -1;
            assigned++;
        }

        var rng = new Random(seed);
        var isPicked = new bool[total];
        for (int c = 0; c < classCount; c++)
        {
            int[] members = byClass[c].ToArray();
            // Partial Fisher–Yates: the first share[c] slots become a uniform random sample of the class.
            for (int i = 0; i < share[c]; i++)
            {
                int j = i + rng.Next(members.Length - i);
                (members[i], members[j]) = (members[j], members[i]);
                isPicked[members[i]] = true;
            }
        }

        var picked = new int[count];
        var rest = new int[total - count];
        int p = 0, r = 0;
        for (int i = 0; i < total; i++)
        {
            if (isPicked[i]) picked[p++] = i;
            else rest[r++] = i;
        }
        return (picked, rest);
    }

    /// <summary>
    /// Bytes 0..255 → floats in [0,1] (pixel / 255f, a true IEEE division, so the vector and scalar paths agree bit for bit).
    /// </summary>
    // pixels (n) -> destination (n)
    public static void ToUnitFloats(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        if (destination.Length < pixels.Length)
            throw new ArgumentException($"Destination holds {destination.Length} floats, need {pixels.Length}.");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // 32 bytes → widen to 2×16 ushorts → 4×8 uints → floats; 184 M CIFAR pixels convert in a fraction of the gunzip time.
            var scale = Vector256.Create(255f);
            ref byte src = ref MemoryMarshal.GetReference(pixels);
            ref float dst = ref MemoryMarshal.GetReference(destination);
            for (; i <= pixels.Length - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                var bytes = Vector256.LoadUnsafe(ref src, (nuint)i);
                var (lo16, hi16) = Vector256.Widen(bytes);
                var (a, b) = Vector256.Widen(lo16);
                var (c, d) = Vector256.Widen(hi16);
                (Vector256.ConvertToSingle(a.AsInt32()) / scale).StoreUnsafe(ref dst, (nuint)i);
                (Vector256.ConvertToSingle(b.AsInt32()) / scale).StoreUnsafe(ref dst, (nuint)(i + 8));
                (Vector256.ConvertToSingle(c.AsInt32()) / scale).StoreUnsafe(ref dst, (nuint)(i + 16));
                (Vector256.ConvertToSingle(d.AsInt32()) / scale).StoreUnsafe(ref dst, (nuint)(i + 24));
            }
        }
        for (; i < pixels.Length; i++) destination[i] = pixels[i] / 255f;
    }
}
