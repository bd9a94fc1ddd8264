namespace NativeConv.Experiments.Data;

/// <summary>
/// The one call a study makes: make sure a dataset's files are present and verified (downloading missing ones unless told
/// not to), then read its train and test splits.
/// </summary>
public static class DatasetCatalog
{
    public const string FashionMnistName = "fashion-mnist";
    public const string Cifar10Name = "cifar-10";

    public static readonly string[] Names = [FashionMnistName, Cifar10Name];

    /// <summary>The files a dataset needs.</summary>
    public static IReadOnlyList<DataFile> FilesOf(string dataset) => dataset switch
    {
        FashionMnistName => DataFiles.FashionMnist,
        Cifar10Name => DataFiles.Cifar,
        _ => throw new ArgumentException($"Unknown dataset '{dataset}'; expected one of: {string.Join(", ", Names)}.", nameof(dataset)),
    };

    /// <param name="dataset">"fashion-mnist" or "cifar-10".</param>
    /// <param name="locator">The data dir (see <see cref="DataLocator.Resolve"/>).</param>
    /// <param name="downloader">Verifies present files and fetches missing ones.</param>
    /// <param name="allowDownload">False: a missing file is an error that says where to put it.</param>
    public static async Task<(Dataset Train, Dataset Test)> LoadAsync(string dataset, DataLocator locator, Downloader downloader,
                                                                      bool allowDownload = true, CancellationToken cancellation = default)
    {
        var files = FilesOf(dataset);
        var paths = await downloader.EnsureAllAsync(locator, files, allowDownload, cancellation).ConfigureAwait(false);
        return dataset == FashionMnistName
            ? (FashionMnist.LoadSplit(paths[0], paths[1], FashionMnist.TrainCount, "fashion-mnist/train"),
               FashionMnist.LoadSplit(paths[2], paths[3], FashionMnist.TestCount, "fashion-mnist/test"))
            : CifarReader.Read(paths[0]);
    }
}
