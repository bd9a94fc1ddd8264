using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gradients;

/// <summary>Op.Conv2D with the CPU convolution forced onto Winograd F(2×2, 3×3) (forward, dx and dW) on this thread.</summary>
public class Conv2DWinogradGradientTests
{
    public static TheoryData<int, int, int, int, int, string> Cases => new()
    {
        // N, C, H, W, OC, padding
        { 2, 3, 5, 7, 4, "same" },
        { 3, 2, 6, 5, 3, "valid" },
        { 2, 3, 3, 4, 2, "explicit" }, // (2, 1): asymmetric between height and width
        { 2, 2, 1, 2, 3, "same" },     // image smaller than a tile
        { 3, 17, 4, 3, 5, "same" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Conv2D_gradients_on_the_winograd_path(int n, int c, int h, int w, int oc, string padding)
    {
        var pad = padding switch { "same" => Padding.Same, "valid" => Padding.Valid, _ => Padding.Explicit(2, 1) };
        var g = ConvGeometry.Create(new Shape(n, c, h, w), new Shape(oc, c, 3, 3), 1, 1, pad);
        Assert.True(WinogradProblem.Supports(g));
        using var force = Conv2DAlgorithms.Force(Conv2DAlgorithm.Winograd);
        using var x = GradCheck.Input("x", TestRandom.Uniform(n * c * h * w, n + c + h), new Shape(n, c, h, w));
        using var wt = GradCheck.Input("w", TestRandom.Uniform(oc * c * 9, oc + 3), new Shape(oc, c, 3, 3));
        using var b = GradCheck.Input("bias", TestRandom.Uniform(oc, 3), new Shape(oc));
        GradCheck.Assert(t => Op.Conv2D(t[0], t[1], t[2], 1, pad), x, wt, b);
    }
}
