using NativeConv.Experiments.Data;
using static NativeConv.Tests.Data.CraftedData;

namespace NativeConv.Tests.Data;

public sealed class DataLocatorTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ExplicitOptionWinsThenEnvironmentThenDefault()
    {
        var byOption = DataLocator.Resolve("opt", environmentValue: "/env", currentDirectory: "/cwd");
        Assert.Equal(Path.GetFullPath("/cwd/opt"), byOption.Root);
        Assert.Equal("--data-dir", byOption.Source);

        var byEnvironment = DataLocator.Resolve(null, environmentValue: "/env/data", currentDirectory: "/cwd");
        Assert.Equal(Path.GetFullPath("/env/data"), byEnvironment.Root);
        Assert.Equal("NATIVECONV_DATA", byEnvironment.Source);

        var byDefault = DataLocator.Resolve(null, environmentValue: "", currentDirectory: "/cwd");
        Assert.Equal(Path.GetFullPath("/cwd/data"), byDefault.Root);
        Assert.Equal("default", byDefault.Source);
    }

    [Fact]
    public void FindsNestedFirstThenFlat()
    {
        var locator = new DataLocator(_dir.Path, "test");
        var file = DataFiles.FashionTestLabels;
        Assert.Null(locator.Find(file));

        string flat = _dir.Write("t10k-labels-idx1-ubyte.gz", [1]);
        Assert.Equal(flat, locator.Find(file));

        string nested = _dir.Write("fashion-mnist/t10k-labels-idx1-ubyte.gz", [2]);
        Assert.Equal(nested, locator.Find(file));
        Assert.Equal(nested, locator.PreferredPath(file));
    }

    [Fact]
    public void MissingFileMessageSaysWhereToPutIt()
    {
        var locator = new DataLocator(_dir.Path, "test");
        var e = Assert.Throws<DataUnavailableException>(() => locator.Require(DataFiles.Cifar10));
        Assert.Contains(Path.Combine(_dir.Path, "cifar-10", "cifar-10-binary.tar.gz"), e.Message);
        Assert.Contains("--data-dir", e.Message);
        Assert.Contains("NATIVECONV_DATA", e.Message);
        Assert.Contains("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", e.Message);
    }

    [Fact]
    public void FileTableMatchesTheSharedLayout()
    {
        Assert.Equal(5, DataFiles.All.Length);
        Assert.All(DataFiles.All, f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256));
        Assert.Equal("c32a1d4ab5d03f1284b67883e8d87530", DataFiles.Cifar10.Md5);
        Assert.All(DataFiles.FashionMnist, f =>
            Assert.Equal("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" + f.FileName, f.Url.ToString()));
    }
}
