using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tests.Kernels;

/// <summary>Every vector width of the convolution kernels this machine runs (the others cannot be forced here).</summary>
public static class ConvVectorWidths
{
    public static ConvVectorWidth[] Supported { get; } =
        [.. new[] { ConvVectorWidth.Vector512, ConvVectorWidth.Vector256, ConvVectorWidth.Vector128, ConvVectorWidth.Scalar }
            .Where(ConvVectors.IsSupported)];

    public static TheoryData<ConvVectorWidth> All()
    {
        var data = new TheoryData<ConvVectorWidth>();
        foreach (var width in Supported) data.Add(width);
        return data;
    }
}
