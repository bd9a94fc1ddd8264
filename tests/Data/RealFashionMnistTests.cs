using NativeConv.Experiments.Data;

namespace NativeConv.Tests.Data;

/// <summary>The real Fashion-MNIST files (see <see cref="RealData"/>): counts, labels, classes and pixel statistics.</summary>
public sealed class RealFashionMnistTests(FashionMnistFixture data, ITestOutputHelper output) : IClassFixture<FashionMnistFixture>
{
    [Fact]
    public void CountsShapeAndClasses()
    {
        output.WriteLine($"Fashion-MNIST train+test read in {data.LoadTime.TotalSeconds:F2} s");
        Assert.Equal(60_000, data.Train.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.Equal((1, 28, 28), data.Train.Shape);
        Assert.Equal(60_000 * 784, data.Train.Images.Length);
        Assert.Equal("T-shirt/top", data.Train.ClassNames[0]);
        Assert.Equal("Ankle boot", data.Train.ClassNames[9]);
    }

    [Fact]
    public void FirstTenTrainingLabels()
    {
        Assert.Equal(new byte[] { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 }, data.Train.Labels[..10]);
    }

    [Fact]
    public void BalancedClasses()
    {
        Assert.All(data.Train.ClassCounts(), n => Assert.Equal(6_000, n));
        Assert.All(data.Test.ClassCounts(), n => Assert.Equal(1_000, n));
    }

    [Theory]
    [InlineData(true, 0.2860, 0.3530)]
    [InlineData(false, 0.2868, 0.3524)]
    public void PixelMeanAndStd(bool train, double mean, double std)
    {
        var stats = PixelStats.Channel(train ? data.Train : data.Test, 0);
        output.WriteLine($"mean {stats.Mean:F5} std {stats.Std:F5}");
        Assert.InRange(stats.Mean, mean - 5e-5, mean + 5e-5);
        Assert.InRange(stats.Std, std - 5e-5, std + 5e-5);
        Assert.Equal(0f, data.Train.Images.Min());
        Assert.Equal(1f, data.Train.Images.Max());
    }

    [Fact]
    public void ValidationSplitOfTheRealTrainingSet()
    {
        var (train, validation) = data.Train.SplitValidation(0.1, seed: 2026);
        Assert.Equal(54_000, train.Count);
        Assert.Equal(6_000, validation.Count);
        Assert.All(validation.ClassCounts(), n => Assert.Equal(600, n));
    }

    [Fact]
    public async Task CatalogVerifiesThenLoadsWithoutNetwork()
    {
        string stamps = Path.Combine(Path.GetTempPath(), "nativeconv-stamps-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var downloader = new Downloader(new NoNetwork(), verifier: new FileVerifier(stamps));
            var (train, test) = await DatasetCatalog.LoadAsync(DatasetCatalog.FashionMnistName, RealData.Locator, downloader, allowDownload: false);
            Assert.Equal(data.Train.Labels, train.Labels);
            Assert.Equal(10_000, test.Count);
            Assert.Equal(4, Directory.GetFiles(stamps).Length); // each file verified once, remembered
        }
        finally
        {
            if (Directory.Exists(stamps)) Directory.Delete(stamps, recursive: true);
        }
        Assert.Throws<ArgumentException>(() => DatasetCatalog.FilesOf("mnist"));
    }

    private sealed class NoNetwork : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the files are present: nothing may be downloaded");
    }

    [Fact]
    public void FilesMatchTheirDigests()
    {
        var verifier = new FileVerifier(stampDirectory: null); // always hash
        foreach (var file in DataFiles.FashionMnist)
            Assert.False(verifier.Verify(RealData.Locator.Require(file), file));
    }
}
