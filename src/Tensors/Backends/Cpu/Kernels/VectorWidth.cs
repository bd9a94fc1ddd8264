namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// Which vector code a kernel runs: Auto picks the widest this machine accelerates (each kernel family says what that
/// needs: the convolution's 256-bit code also FMA). Tests force each width the machine can run.
/// </summary>
public enum VectorWidth { Auto, Vector512, Vector256, Vector128, Scalar }
