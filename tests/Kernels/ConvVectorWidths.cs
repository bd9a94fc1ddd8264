using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Tests.Kernels;

/// <summary>Every vector width of the convolution kernels this machine runs (the others cannot be forced here).</summary>
public static class VectorWidths
{
    public static VectorWidth[] Supported { get; } =
        [.. new[] { VectorWidth.Vector512, VectorWidth.Vector256, VectorWidth.Vector128, VectorWidth.Scalar }
            .Where(ConvVectors.IsSupported)];

    public static TheoryData<VectorWidth> All()
    {
        var data = new TheoryData<VectorWidth>();
        foreach (var width in Supported) data.Add(width);
        return data;
    }
}
