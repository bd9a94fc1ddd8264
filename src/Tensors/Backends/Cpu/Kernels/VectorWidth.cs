namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// Which vector code a kernel runs: Auto picks the widest this machine accelerates (each kernel family says what that
/// needs: the convolution's 256-bit code also FMA). Tests force each width the machine can run.
/// </summary>
public enum VectorWidth { Auto, Vector512, Vector256, Vector128, Scalar }

/// <summary>Width choices every kernel family shares (each family says which widths its own code runs).</summary>
public static class VectorWidths
{
    /// <summary>The widest of 512, 256 and 128 bits that <paramref name="runs"/> accepts, else scalar.</summary>
    public static VectorWidth Widest(Func<VectorWidth, bool> runs) =>
        runs(VectorWidth.Vector512) ? VectorWidth.Vector512
        : runs(VectorWidth.Vector256) ? VectorWidth.Vector256
        : runs(VectorWidth.Vector128) ? VectorWidth.Vector128
        : VectorWidth.Scalar;
}
