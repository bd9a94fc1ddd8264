using NativeConv.Experiments.Data;
using NativeConv.Layers;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// The pictures of one trained CNN, written into its run folder: <see cref="FilterGrid"/> (first-layer filters at
/// initialisation and after training), <see cref="FeatureMaps"/> (one test image per class through every convolution) and
/// <see cref="ConfusionPicture"/> (test confusion heat-map and the most-confused pairs). A model without a convolution
/// gets none (the file names are those of <see cref="FileNames"/>).
/// </summary>
public static class ModelPictures
{
    /// <summary>The picture files of <paramref name="model"/> (relative to the run folder), in the order report.md shows them.</summary>
    public static IReadOnlyList<(string Caption, string File)> FileNames(string model) =>
    [
        ("first-layer filters, at initialisation and after training", FilterGrid.FileName(model)),
        ("feature maps of one test image per class", FeatureMaps.FileName(model)),
        ("test confusion matrix and the most-confused pairs", ConfusionPicture.FileName(model)),
    ];

    /// <summary>
    /// Writes the three pictures of <paramref name="trained"/> into <paramref name="folder"/>; <paramref name="initial"/> is
    /// the same model as created before training (ModelZoo.Create with the run's seed). False when the model has no
    /// convolution (nothing written).
    /// </summary>
    public static bool Write(string folder, string modelName, Module initial, Module trained, Dataset test)
    {
        if (Pictures.FirstConv(trained) is null) return false;
        Directory.CreateDirectory(folder);
        FilterGrid.Write(Path.Combine(folder, FilterGrid.FileName(modelName)), modelName, initial, trained);
        FeatureMaps.Write(Path.Combine(folder, FeatureMaps.FileName(modelName)), modelName, trained, test);
        ConfusionPicture.Write(Path.Combine(folder, ConfusionPicture.FileName(modelName)), modelName, trained, test);
        return true;
    }
}
