namespace NativeConv.Experiments.Serving;

/// <summary>
/// What the server needs of a model: a description for GET /v1/model, a decoder from an image file's bytes to one input
/// sample, and a batched forward pass that returns class probabilities. <see cref="Decode"/> is called from many request
/// threads at once and must be thread-safe; <see cref="Classify"/> is called only by the server's single batching worker.
/// </summary>
public interface IImageClassifier
{
    /// <summary>The model's name, dataset, input shape, classes, architecture and the test accuracy of its run.</summary>
    ServedModelInfo Info { get; }

    /// <summary>
    /// Decodes an image file (PNG, JPEG or BMP bytes; <paramref name="source"/> names it in errors) into one input sample
    /// of <see cref="ServedModelInfo.InputLength"/> floats (C, H, W), prepared as the model was trained. Throws
    /// <see cref="ImageDecodeException"/> (one line) when the bytes are not a readable image; any other exception is a
    /// server error.
    /// </summary>
    void Decode(ReadOnlySpan<byte> encoded, string source, Span<float> sample);

    /// <summary>
    /// One forward pass over <paramref name="count"/> samples (count × InputLength floats, NCHW): writes count × ClassCount
    /// probabilities (softmax of the logits), sample after sample.
    /// </summary>
    void Classify(ReadOnlySpan<float> samples, int count, Span<float> probabilities);
}

/// <summary>One layer of the served model, as the `models` command lists it.</summary>
/// <param name="Name">Layer name ("conv1").</param>
/// <param name="Type">Module type ("Conv2D").</param>
/// <param name="OutputShape">Output shape with the batch axis as null: [null, 16, 28, 28].</param>
/// <param name="Parameters">Parameters the layer owns.</param>
public sealed record ServedLayer(string Name, string Type, IReadOnlyList<int?> OutputShape, long Parameters);

/// <summary>The served model, as GET /v1/model reports it.</summary>
/// <param name="Name">Model name ("fmnist-cnn").</param>
/// <param name="Dataset">The dataset it was trained on ("fashion-mnist").</param>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="ClassNames">One label per output, in output order.</param>
/// <param name="ParameterCount">Trainable parameters.</param>
/// <param name="TestAccuracy">Accuracy on the test set recorded by the run that trained it; null when the run did not record one.</param>
/// <param name="Layers">The layers in forward order with their output shapes.</param>
/// <param name="Preprocessing">How an uploaded image becomes an input (resize, greyscale, inversion), in words.</param>
public sealed record ServedModelInfo(
    string Name, string Dataset, int Channels, int Height, int Width, IReadOnlyList<string> ClassNames, long ParameterCount,
    double? TestAccuracy, IReadOnlyList<ServedLayer> Layers, string Preprocessing)
{
    /// <summary>Floats in one input sample: C × H × W.</summary>
    public int InputLength => Channels * Height * Width;

    /// <summary>Outputs of the model.</summary>
    public int ClassCount => ClassNames.Count;
}
