namespace NativeConv.Experiments.Data;

/// <summary>
/// One dataset file: where it lives under the data dir, where it is downloaded from, and the digests that prove its bytes.
/// </summary>
/// <param name="RelativePath">Path under the data dir, '/'-separated (the file may also sit flat in the data dir root).</param>
/// <param name="Url">The official download location.</param>
/// <param name="Size">Size of the known-good file in bytes (a progress-bar hint; the digest decides).</param>
/// <param name="Sha256">Accepted SHA-256 (lower-case hex).</param>
/// <param name="Md5">Also accepted: the MD5 published with the official download (lower-case hex), or null.</param>
public sealed record DataFile(string RelativePath, Uri Url, long Size, string Sha256, string? Md5 = null)
{
    public string FileName => Path.GetFileName(RelativePath);
}

/// <summary>The files the studies need, their official locations and the digests that identify good copies.</summary>
public static class DataFiles
{
    private const string FashionBase = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

    public static readonly DataFile FashionTrainImages = new(
        "fashion-mnist/train-images-idx3-ubyte.gz", new Uri(FashionBase + "train-images-idx3-ubyte.gz"), 26_421_880,
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84");

    public static readonly DataFile FashionTrainLabels = new(
        "fashion-mnist/train-labels-idx1-ubyte.gz", new Uri(FashionBase + "train-labels-idx1-ubyte.gz"), 29_515,
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845");

    public static readonly DataFile FashionTestImages = new(
        "fashion-mnist/t10k-images-idx3-ubyte.gz", new Uri(FashionBase + "t10k-images-idx3-ubyte.gz"), 4_422_102,
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073");

    public static readonly DataFile FashionTestLabels = new(
        "fashion-mnist/t10k-labels-idx1-ubyte.gz", new Uri(FashionBase + "t10k-labels-idx1-ubyte.gz"), 5_148,
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5");

    /// <summary>
    /// Accepts either the repackaged tarball (SHA-256; same layout, JPEG-re-encoded pixels) or the official download
    /// (its published MD5).
    /// </summary>
    public static readonly DataFile Cifar10 = new(
        "cifar-10/cifar-10-binary.tar.gz", new Uri("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"), 170_052_171,
        "1f07d76c503db3df6ab1a3c0e477077490c31dafa6e058a3c71090ac9d2048a4", Md5: "c32a1d4ab5d03f1284b67883e8d87530");

    public static readonly DataFile[] FashionMnist = [FashionTrainImages, FashionTrainLabels, FashionTestImages, FashionTestLabels];
    public static readonly DataFile[] Cifar = [Cifar10];
    public static readonly DataFile[] All = [.. FashionMnist, .. Cifar];
}
