namespace NativeConv.Experiments.Training;

/// <summary>
/// What the trainer reads: images as float32 NCHW (image-major), one class label per image, and the image shape. A view over
/// arrays (nothing is copied); the data loaders' Dataset converts to it with one call.
/// </summary>
public sealed class LabeledImages
{
    public LabeledImages(string name, float[] images, byte[] labels, int channels, int height, int width, int classCount)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"Images '{name}': the image shape (C, H, W) must be positive; got ({channels}, {height}, {width}).");
        if (classCount < 2)
            throw new ArgumentException($"Images '{name}': a classifier needs at least 2 classes; got {classCount}.");
        long sample = (long)channels * height * width;
        if (images.LongLength != sample * labels.LongLength)
            throw new ArgumentException($"Images '{name}': {images.LongLength} floats do not hold {labels.Length} images of ({channels}, {height}, {width}) = {sample * labels.LongLength} floats.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new ArgumentException($"Images '{name}': label {i} is {labels[i]}, but there are only {classCount} classes (0..{classCount - 1}).");
        Name = name;
        Images = images;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassCount = classCount;
    }

    /// <summary>E.g. "fashion-mnist/train[validation]"; used in messages.</summary>
    public string Name { get; }

    /// <summary>Count × C × H × W floats, image-major NCHW.</summary>
    public float[] Images { get; }

    /// <summary>Class index of each image.</summary>
    public byte[] Labels { get; }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int ClassCount { get; }

    public int Count => Labels.Length;

    /// <summary>Floats per image (C·H·W).</summary>
    public int SampleSize => Channels * Height * Width;
}
