using System.Globalization;
using NativeConv.Layers;
using SkiaSharp;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// A <see cref="TrainedModel"/> as the server's <see cref="IImageClassifier"/>: uploads are decoded by
/// <see cref="ImageInput"/> with the model's own input options (resize, grey, inversion for Fashion-MNIST), and the
/// batch goes to <see cref="TrainedModel.Classify"/>. Images over a pixel limit are refused from their header, before
/// their pixels are decoded.
/// </summary>
public sealed class TrainedModelClassifier : IImageClassifier
{
    private readonly ImageInputOptions _input;
    private readonly long _maxPixels;

    public TrainedModelClassifier(TrainedModel model, long maxImagePixels = ImageInput.MaxPixels)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxImagePixels, 1);
        Model = model;
        _input = ImageInputOptions.For(model);
        _maxPixels = Math.Min(maxImagePixels, ImageInput.MaxPixels);
        var (c, h, w) = model.InputShape;
        Info = new ServedModelInfo(model.Name, model.Dataset, c, h, w, model.ClassNames, model.ParameterCount, model.TestAccuracy,
            Layers(model), Preprocessing(_input));
    }

    /// <summary>The model served.</summary>
    public TrainedModel Model { get; }

    public ServedModelInfo Info { get; }

    public void Decode(ReadOnlySpan<byte> encoded, string source, Span<float> sample)
    {
        if (_maxPixels < ImageInput.MaxPixels && encoded.Length > 0)
        {
            // The header alone gives the size (SKCodec reads no pixels until asked).
            using var data = SKData.CreateCopy(encoded);
            using var codec = SKCodec.Create(data);
            if (codec is not null && (long)codec.Info.Width * codec.Info.Height > _maxPixels)
                throw new ImageDecodeException(source,
                    $"the image is {codec.Info.Width}×{codec.Info.Height}, more than the {_maxPixels.ToString("N0", CultureInfo.InvariantCulture)} pixels this server decodes.");
        }
        ImageInput.Decode(encoded, source, _input, sample);
    }

    public void Classify(ReadOnlySpan<float> samples, int count, Span<float> probabilities) => Model.Classify(samples, count, probabilities);

    private static ServedLayer[] Layers(TrainedModel model) =>
        ModelSummary.Rows(model.Model, ModelZoo.BatchInputShape(model.Name, 1))
            .Select(row =>
            {
                var shape = new int?[row.OutputShape.Rank];
                for (int i = 1; i < shape.Length; i++) shape[i] = row.OutputShape[i];
                return new ServedLayer(row.Name, row.Type, shape, row.Parameters);
            })
            .ToArray();

    private static string Preprocessing(ImageInputOptions input) =>
        $"resized to {input.Width}×{input.Height} with an area filter (stretched), " +
        (input.Channels == 1 ? "grey (BT.601 luma), " : "RGB, ") + "scaled to [0,1]" +
        (input.InvertDarkOnLight ? $", inverted when its border is light (dark-on-light; mean above {ImageInput.DarkOnLightThreshold.ToString(CultureInfo.InvariantCulture)})" : "");
}
