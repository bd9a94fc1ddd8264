using NativeConv.Layers.Init;

namespace NativeConv.Experiments.Data;

/// <summary>
/// The input transforms of the inductive-bias studies: integer translation with zero fill, a fixed pixel permutation, and
/// nested stratified training subsets. Images are NCHW floats as in <see cref="Dataset"/>; every random choice is seeded.
/// </summary>
public static class ImageTransforms
{
    /// <summary>The eight directions of the shift study as (dx, dy) unit steps: right, left, down, up and the four diagonals.</summary>
    public static IReadOnlyList<(string Name, int Dx, int Dy)> Directions { get; } =
    [
        ("right", 1, 0), ("left", -1, 0), ("down", 0, 1), ("up", 0, -1),
        ("down-right", 1, 1), ("down-left", -1, 1), ("up-right", 1, -1), ("up-left", -1, -1),
    ];

    /// <summary>
    /// Translates one C×H×W image by (<paramref name="dx"/>, <paramref name="dy"/>) pixels: output[c, y, x] =
    /// input[c, y − dy, x − dx] where that lies inside the image, else 0 (positive dx moves the content right, positive dy down).
    /// <paramref name="source"/> and <paramref name="destination"/> must not overlap.
    /// </summary>
    public static void Shift(ReadOnlySpan<float> source, Span<float> destination, int channels, int height, int width, int dx, int dy)
    {
        int plane = height * width;
        if (source.Length != channels * plane || destination.Length != source.Length)
            throw new ArgumentException($"Shift: {source.Length} source and {destination.Length} destination floats for a {channels}×{height}×{width} image.");
        destination.Clear();
        // The source columns that land inside the image: x − dx in [0, width) for x in [0, width).
        int fromX = Math.Max(0, -dx), toX = Math.Min(width, width - dx); // source x range [fromX, toX)
        int fromY = Math.Max(0, -dy), toY = Math.Min(height, height - dy);
        if (fromX >= toX || fromY >= toY) return;
        int run = toX - fromX;
        for (int c = 0; c < channels; c++)
        {
            for (int y = fromY; y < toY; y++)
            {
                source.Slice(c * plane + y * width + fromX, run)
                    .CopyTo(destination.Slice(c * plane + (y + dy) * width + fromX + dx, run));
            }
        }
    }

    /// <summary>Every image of <paramref name="data"/> translated by (dx, dy) with zero fill (a new dataset; labels shared).</summary>
    public static Dataset Shifted(Dataset data, int dx, int dy)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (c, h, w) = data.Shape;
        int sample = data.SampleSize;
        var images = new float[data.Images.LongLength];
        for (int i = 0; i < data.Count; i++)
            Shift(data.Images.AsSpan(i * sample, sample), images.AsSpan(i * sample, sample), c, h, w, dx, dy);
        return new Dataset($"{data.Name}[shift {dx},{dy}]", images, data.Labels, data.ClassNames, c, h, w);
    }

    /// <summary>
    /// Every image translated by its own random integer (dx, dy), each uniform in [−maxShift, maxShift], drawn from a stream
    /// seeded by (<paramref name="seed"/>, image index): the same seed gives the same shifts.
    /// </summary>
    public static Dataset RandomlyShifted(Dataset data, int maxShift, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(maxShift);
        var (c, h, w) = data.Shape;
        int sample = data.SampleSize;
        var images = new float[data.Images.LongLength];
        ulong stream = SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash("random-shift"));
        for (int i = 0; i < data.Count; i++)
        {
            var rng = new SplitMix64(SeedMixer.Mix(stream, (ulong)i));
            int dx = rng.NextInt(2 * maxShift + 1) - maxShift, dy = rng.NextInt(2 * maxShift + 1) - maxShift;
            Shift(data.Images.AsSpan(i * sample, sample), images.AsSpan(i * sample, sample), c, h, w, dx, dy);
        }
        return new Dataset($"{data.Name}[random shift ≤{maxShift}]", images, data.Labels, data.ClassNames, c, h, w);
    }

    /// <summary>
    /// A seeded random permutation of the H×W pixel positions (a Fisher–Yates shuffle): the same seed gives the same permutation.
    /// Entry p is the source position whose pixel goes to position p.
    /// </summary>
    public static int[] PixelPermutation(int height, int width, int seed)
    {
        var permutation = new int[height * width];
        for (int i = 0; i < permutation.Length; i++) permutation[i] = i;
        var rng = new SplitMix64(SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash("pixel-permutation")));
        for (int i = permutation.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        return permutation;
    }

    /// <summary>
    /// Every image with its pixel positions permuted: output[c, p] = input[c, permutation[p]], the same permutation for every
    /// channel (a pixel keeps its colour) and every image. Throws unless <paramref name="permutation"/> is a bijection of 0..H·W−1.
    /// </summary>
    public static Dataset Permuted(Dataset data, int[] permutation)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(permutation);
        var (c, h, w) = data.Shape;
        int plane = h * w;
        if (permutation.Length != plane) throw new ArgumentException($"Permuted: a permutation of {permutation.Length} positions for {h}×{w} images.");
        var seen = new bool[plane];
        foreach (int p in permutation)
        {
            if ((uint)p >= (uint)plane || seen[p]) throw new ArgumentException($"Permuted: position {p} is out of range or repeated: not a permutation of 0..{plane - 1}.");
            seen[p] = true;
        }
        var images = new float[data.Images.LongLength];
        var source = data.Images;
        for (long start = 0; start < images.LongLength; start += plane) // one plane = one channel of one image
        {
            var from = source.AsSpan((int)start, plane);
            var to = images.AsSpan((int)start, plane);
            for (int p = 0; p < plane; p++) to[p] = from[permutation[p]];
        }
        return new Dataset($"{data.Name}[permuted]", images, data.Labels, data.ClassNames, c, h, w);
    }

    /// <summary>
    /// A seeded order of the indices 0..labels.Length−1 whose every prefix is stratified: each class is shuffled (seeded), its
    /// k-th member gets the key (k + ½) / classSize, and the order sorts by key (ties by class). A prefix of length N then holds
    /// each class within one image of its share N × classSize / total (for equal classes), and the prefixes are nested — the
    /// training subsets of the sample-efficiency study are prefixes of this order.
    /// </summary>
    public static int[] NestedStratifiedOrder(byte[] labels, int classCount, int seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var byClass = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) byClass[c] = new List<int>();
        for (int i = 0; i < labels.Length; i++) byClass[labels[i]].Add(i);
        var keyed = new List<(double Key, int Class, int Index)>(labels.Length);
        for (int c = 0; c < classCount; c++)
        {
            int[] members = byClass[c].ToArray();
            var rng = new SplitMix64(SeedMixer.Mix(SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash("nested-subsets")), (ulong)c));
            for (int i = members.Length - 1; i > 0; i--)
            {
                int j = rng.NextInt(i + 1);
                (members[i], members[j]) = (members[j], members[i]);
            }
            for (int k = 0; k < members.Length; k++) keyed.Add(((k + 0.5) / members.Length, c, members[k]));
        }
        keyed.Sort((a, b) => a.Key != b.Key ? a.Key.CompareTo(b.Key) : a.Class.CompareTo(b.Class));
        var order = new int[keyed.Count];
        for (int i = 0; i < order.Length; i++) order[i] = keyed[i].Index;
        return order;
    }

    /// <summary>The first <paramref name="count"/> images of <see cref="NestedStratifiedOrder"/> (in the dataset's order).</summary>
    public static Dataset NestedSubset(Dataset data, int count, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (count >= data.Count) return data;
        var picked = NestedStratifiedOrder(data.Labels, data.ClassCount, seed).AsSpan(0, count).ToArray();
        Array.Sort(picked);
        return data.Select(picked, $"{data.Name}[first {count} of nested subsets]");
    }
}

/// <summary>
/// Training-time augmentation: every image of a batch translated by its own random integer (dx, dy), each uniform in
/// [−<see cref="MaxShift"/>, <see cref="MaxShift"/>], zero fill. The shifts come from (seed, epoch, step, position in the
/// batch), so a resumed run draws the same ones. One scratch image, reused (nothing allocated per batch).
/// </summary>
public sealed class RandomShiftAugmentation(int maxShift, int seed, int channels, int height, int width)
{
    private readonly float[] _scratch = new float[channels * height * width];

    public int MaxShift { get; } = maxShift >= 0 ? maxShift : throw new ArgumentOutOfRangeException(nameof(maxShift));

    /// <summary>Shifts the <paramref name="count"/> images of <paramref name="batch"/> in place.</summary>
    public void Apply(Span<float> batch, int count, int epoch, int step)
    {
        int sample = _scratch.Length;
        ulong stream = SeedMixer.Mix(SeedMixer.Mix(SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash("augment-shift")), (ulong)epoch), (ulong)step);
        for (int i = 0; i < count; i++)
        {
            var rng = new SplitMix64(SeedMixer.Mix(stream, (ulong)i));
            int dx = rng.NextInt(2 * MaxShift + 1) - MaxShift, dy = rng.NextInt(2 * MaxShift + 1) - MaxShift;
            if (dx == 0 && dy == 0) continue;
            var image = batch.Slice(i * sample, sample);
            image.CopyTo(_scratch);
            ImageTransforms.Shift(_scratch, image, channels, height, width, dx, dy);
        }
    }
}
