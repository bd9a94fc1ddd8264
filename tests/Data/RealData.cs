using System.Diagnostics;
using NativeConv.Experiments.Data;

namespace NativeConv.Tests.Data;

/// <summary>
/// Where the real dataset files are for the tests: $NATIVECONV_DATA, else ../shared/data beside the repository root.
/// Missing files FAIL the tests (with where to put them): the real-data checks are not optional.
/// </summary>
internal static class RealData
{
    private static readonly Lazy<DataLocator> LazyLocator = new(Resolve);

    public static DataLocator Locator => LazyLocator.Value;

    private static DataLocator Resolve()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(DataLocator.EnvironmentVariable);
        DataLocator locator;
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            locator = new DataLocator(fromEnvironment, DataLocator.EnvironmentVariable);
        }
        else
        {
            string? repo = AppContext.BaseDirectory;
            while (repo is not null && !File.Exists(Path.Combine(repo, "NativeConv.sln"))) repo = Path.GetDirectoryName(repo);
            if (repo is null)
                throw new InvalidOperationException(
                    $"Cannot find the repository root (NativeConv.sln) above {AppContext.BaseDirectory}; set {DataLocator.EnvironmentVariable} to the data folder.");
            locator = new DataLocator(Path.Combine(repo, "..", "shared", "data"), "../shared/data beside the repository");
        }
        var missing = DataFiles.All.Where(f => locator.Find(f) is null).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException(
                "The real-data tests need the dataset files. " + locator.MissingMessage(missing) +
                $" (for the tests: set {DataLocator.EnvironmentVariable}, or put them in ../shared/data beside the repository root)");
        return locator;
    }
}

/// <summary>Fashion-MNIST read once per test class.</summary>
public sealed class FashionMnistFixture
{
    public FashionMnistFixture()
    {
        var clock = Stopwatch.StartNew();
        (Train, Test) = FashionMnist.Load(RealData.Locator);
        LoadTime = clock.Elapsed;
    }

    public Dataset Train { get; }
    public Dataset Test { get; }
    public TimeSpan LoadTime { get; }
}

/// <summary>CIFAR-10 read once per test class.</summary>
public sealed class Cifar10Fixture
{
    public Cifar10Fixture()
    {
        var clock = Stopwatch.StartNew();
        (Train, Test) = CifarReader.Read(RealData.Locator.Require(DataFiles.Cifar10));
        LoadTime = clock.Elapsed;
    }

    public Dataset Train { get; }
    public Dataset Test { get; }
    public TimeSpan LoadTime { get; }
}

internal static class PixelStats
{
    /// <summary>Mean and population standard deviation of channel <paramref name="channel"/> over all images.</summary>
    public static (double Mean, double Std) Channel(Dataset set, int channel)
    {
        int plane = set.Shape.H * set.Shape.W;
        double sum = 0, sumSquares = 0;
        for (int i = 0; i < set.Count; i++)
        {
            var pixels = set.Image(i).Slice(channel * plane, plane);
            foreach (float p in pixels)
            {
                sum += p;
                sumSquares += (double)p * p;
            }
        }
        double n = (double)set.Count * plane;
        double mean = sum / n;
        return (mean, Math.Sqrt(sumSquares / n - mean * mean));
    }
}
