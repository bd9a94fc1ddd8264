using NativeConv.Experiments.Data;

namespace NativeConv.Tests.Data;

public sealed class DatasetTests
{
    /// <summary>A small set whose image i is filled with the value i, with uneven class sizes.</summary>
    private static Dataset Numbered(int count, int classes = 10)
    {
        const int c = 2, h = 3, w = 2;
        var images = new float[count * c * h * w];
        var labels = new byte[count];
        var rng = new Random(5);
        for (int i = 0; i < count; i++)
        {
            images.AsSpan(i * 12, 12).Fill(i);
            labels[i] = (byte)(rng.Next(3) == 0 ? 0 : rng.Next(classes)); // class 0 over-represented
        }
        string[] names = Enumerable.Range(0, classes).Select(k => $"class{k}").ToArray();
        return new Dataset("numbered", images, labels, names, c, h, w);
    }

    private static int[] Ids(Dataset set) => Enumerable.Range(0, set.Count).Select(i => (int)set.Image(i)[0]).ToArray();

    [Theory]
    [InlineData(1000, 0.1)]
    [InlineData(997, 0.1)]
    [InlineData(61, 0.25)]
    [InlineData(13, 0.5)]
    public void SplitIsDeterministicDisjointCompleteAndSized(int count, double fraction)
    {
        var set = Numbered(count);
        var (train, validation) = set.SplitValidation(fraction, seed: 42);
        var (train2, validation2) = set.SplitValidation(fraction, seed: 42);

        int expectedValidation = (int)Math.Round(count * fraction, MidpointRounding.AwayFromZero);
        Assert.Equal(expectedValidation, validation.Count);
        Assert.Equal(count - expectedValidation, train.Count);

        int[] t = Ids(train), v = Ids(validation);
        Assert.Equal(t, Ids(train2));
        Assert.Equal(v, Ids(validation2));
        Assert.Empty(t.Intersect(v));
        Assert.Equal(Enumerable.Range(0, count), t.Concat(v).Order());
        Assert.Equal(t.Order(), t); // original order kept
        for (int i = 0; i < train.Count; i++)
        {
            Assert.Equal(set.Labels[t[i]], train.Labels[i]); // labels travel with their images
            Assert.All(train.Image(i).ToArray(), value => Assert.Equal(t[i], value));
        }
        Assert.Equal(set.Shape, validation.Shape);
        Assert.Same(set.ClassNames, validation.ClassNames);
    }

    [Fact]
    public void DifferentSeedsGiveDifferentSplits()
    {
        var set = Numbered(500);
        Assert.NotEqual(Ids(set.SplitValidation(0.1, seed: 1).Validation), Ids(set.SplitValidation(0.1, seed: 2).Validation));
    }

    [Fact]
    public void SplitIsStratified()
    {
        var set = Numbered(2000);
        var (_, validation) = set.SplitValidation(0.1, seed: 7);
        int[] all = set.ClassCounts(), picked = validation.ClassCounts();
        for (int c = 0; c < all.Length; c++)
            Assert.InRange(picked[c], (int)Math.Floor(all[c] * 0.1), (int)Math.Ceiling(all[c] * 0.1));
    }

    [Fact]
    public void LimitIsSeededStratifiedAndOrdered()
    {
        var set = Numbered(300);
        var a = set.Limit(50, seed: 3);
        Assert.Equal(50, a.Count);
        Assert.Equal(Ids(a), Ids(set.Limit(50, seed: 3)));
        Assert.NotEqual(Ids(a), Ids(set.Limit(50, seed: 4)));
        Assert.Equal(Ids(a).Order(), Ids(a));
        Assert.Equal(50, Ids(a).Distinct().Count());
        int[] all = set.ClassCounts(), picked = a.ClassCounts();
        for (int c = 0; c < all.Length; c++)
            Assert.InRange(picked[c], all[c] * 50 / 300, all[c] * 50 / 300 + 1);
        Assert.Same(set, set.Limit(300));
        Assert.Same(set, set.Limit(10_000));
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        var set = Numbered(20);
        Assert.Throws<ArgumentOutOfRangeException>(() => set.SplitValidation(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.SplitValidation(1));
        Assert.Throws<ArgumentException>(() => set.SplitValidation(0.01)); // rounds to an empty validation set
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Limit(0));
        Assert.Throws<ArgumentException>(() => new Dataset("x", new float[11], new byte[1], ["a"], 1, 3, 4));
        Assert.Throws<ArgumentException>(() => new Dataset("x", new float[12], [1], ["a"], 1, 3, 4));
    }

    [Fact]
    public void UnitFloatsMatchScalarOnEveryLength()
    {
        int[] lengths = [.. Enumerable.Range(0, 257), 1000, 1031, 3072];
        foreach (int n in lengths)
        {
            var bytes = new byte[n];
            new Random(n).NextBytes(bytes);
            var floats = new float[n + 3];
            floats.AsSpan().Fill(float.NaN); // poisoned: every element must be written
            Dataset.ToUnitFloats(bytes, floats.AsSpan(0, n));
            for (int i = 0; i < n; i++)
                Assert.True(bytes[i] / 255f == floats[i], $"length {n}, index {i}: {floats[i]} for byte {bytes[i]}");
            Assert.True(float.IsNaN(floats[n]), $"length {n}: wrote past the end");
        }
    }

    [Fact]
    public void UnitFloatsCoverTheByteRange()
    {
        byte[] bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var floats = new float[256];
        Dataset.ToUnitFloats(bytes, floats);
        Assert.Equal(0f, floats[0]);
        Assert.Equal(1f, floats[255]);
        for (int i = 0; i < 256; i++) Assert.Equal(i / 255f, floats[i]);
    }
}
