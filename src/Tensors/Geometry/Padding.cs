namespace NativeConv.Tensors.Geometry;

/// <summary>How a convolution pads its input.</summary>
public enum PaddingMode
{
    /// <summary>No padding: the output shrinks by kernel − 1 (Keras "valid").</summary>
    Valid,
    /// <summary>Output size = ceil(input / stride); the extra row/column goes at the bottom/right (Keras/TF "same").</summary>
    Same,
    /// <summary>A fixed number of zero rows/columns on each side (PyTorch style).</summary>
    Explicit,
}

/// <summary>Padding for a 2-D convolution: a mode, plus the per-side amounts when the mode is explicit.</summary>
public readonly record struct Padding(PaddingMode Mode, int Height = 0, int Width = 0)
{
    public static Padding Valid => new(PaddingMode.Valid);
    public static Padding Same => new(PaddingMode.Same);
    public static Padding Explicit(int height, int width) => new(PaddingMode.Explicit, height, width);

    public override string ToString() => Mode switch
    {
        PaddingMode.Valid => "valid",
        PaddingMode.Same => "same",
        _ => $"explicit({Height},{Width})",
    };
}
