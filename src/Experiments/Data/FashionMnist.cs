namespace NativeConv.Experiments.Data;

/// <summary>Fashion-MNIST: 28×28 grayscale, 10 classes, 60,000 train / 10,000 test images in gzip IDX files.</summary>
public static class FashionMnist
{
    public const int TrainCount = 60_000;
    public const int TestCount = 10_000;

    public static readonly string[] ClassNames =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>Loads the official train and test splits from the files the locator finds (see <see cref="DataFiles"/>).</summary>
    public static (Dataset Train, Dataset Test) Load(DataLocator locator)
    {
        var train = LoadSplit(locator.Require(DataFiles.FashionTrainImages), locator.Require(DataFiles.FashionTrainLabels),
                              TrainCount, "fashion-mnist/train");
        var test = LoadSplit(locator.Require(DataFiles.FashionTestImages), locator.Require(DataFiles.FashionTestLabels),
                             TestCount, "fashion-mnist/test");
        return (train, test);
    }

    /// <summary>
    /// Reads one split: an images file and its labels file, which must hold the same number of items
    /// (<paramref name="expectedCount"/> each, or any equal count up to 60,000 when null).
    /// </summary>
    public static Dataset LoadSplit(string imagesPath, string labelsPath, int? expectedCount, string name)
    {
        var images = IdxReader.ReadImages(imagesPath, expectedCount);
        var labels = IdxReader.ReadLabels(labelsPath, expectedCount, ClassNames.Length);
        if (labels.Length != images.Count)
            throw new DataFormatException(labelsPath,
                $"holds {labels.Length:N0} labels but the images file {imagesPath} holds {images.Count:N0} images; expected one label per image");
        var floats = new float[images.Pixels.Length];
        Dataset.ToUnitFloats(images.Pixels, floats);
        return new Dataset(name, floats, labels, ClassNames, 1, images.Rows, images.Cols);
    }
}
