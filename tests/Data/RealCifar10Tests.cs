using NativeConv.Experiments.Data;

namespace NativeConv.Tests.Data;

/// <summary>The real CIFAR-10 tarball (see <see cref="RealData"/>): counts, classes and channel statistics.</summary>
public sealed class RealCifar10Tests(Cifar10Fixture data, ITestOutputHelper output) : IClassFixture<Cifar10Fixture>
{
    [Fact]
    public void CountsShapeAndClasses()
    {
        output.WriteLine($"CIFAR-10 train+test read from the tarball in {data.LoadTime.TotalSeconds:F2} s");
        Assert.Equal(50_000, data.Train.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.Equal((3, 32, 32), data.Train.Shape);
        Assert.Equal(50_000L * 3072, data.Train.Images.LongLength);
        Assert.Equal(
            ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            data.Train.ClassNames);
    }

    [Fact]
    public void BalancedClasses()
    {
        Assert.All(data.Train.ClassCounts(), n => Assert.Equal(5_000, n));
        Assert.All(data.Test.ClassCounts(), n => Assert.Equal(1_000, n));
    }

    [Fact]
    public void EveryBatchMixesClasses()
    {
        // The README: batches are shuffled, per-class counts per batch between 944 and 1,064.
        for (int b = 0; b < 5; b++)
        {
            var counts = new int[10];
            for (int i = b * 10_000; i < (b + 1) * 10_000; i++) counts[data.Train.Labels[i]]++;
            Assert.All(counts, n => Assert.InRange(n, 944, 1_064));
        }
    }

    [Theory]
    [InlineData(true, 0.4913, 0.4821, 0.4465, 0.2452, 0.2428, 0.2606)]
    [InlineData(false, 0.4941, 0.4851, 0.4504, 0.2448, 0.2422, 0.2606)]
    public void ChannelMeansAndStds(bool train, double r, double g, double b, double rStd, double gStd, double bStd)
    {
        var set = train ? data.Train : data.Test;
        double[] means = [r, g, b], stds = [rStd, gStd, bStd];
        for (int c = 0; c < 3; c++)
        {
            var stats = PixelStats.Channel(set, c);
            output.WriteLine($"channel {c}: mean {stats.Mean:F5} std {stats.Std:F5}");
            Assert.InRange(stats.Mean, means[c] - 5e-5, means[c] + 5e-5);
            Assert.InRange(stats.Std, stds[c] - 5e-5, stds[c] + 5e-5);
        }
    }

    [Fact]
    public void TarballMatchesItsDigest()
    {
        var verifier = new FileVerifier(stampDirectory: null); // always hash
        Assert.False(verifier.Verify(RealData.Locator.Require(DataFiles.Cifar10), DataFiles.Cifar10));
    }
}
