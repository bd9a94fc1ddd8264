namespace NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

// JIT-time switches of the convolution drivers (as ICopyMode is for the GEMM): each combination is its own compiled
// loop, with no per-row or per-group test of a flag.

/// <summary>Whether a ReLU is fused into the convolution: y = max(conv + bias, 0), and dY masked by y &gt; 0.</summary>
internal interface IReluFusion
{
    static abstract bool Enabled { get; }
}

internal readonly struct NoRelu : IReluFusion
{
    public static bool Enabled => false;
}

internal readonly struct FusedRelu : IReluFusion
{
    public static bool Enabled => true;
}

/// <summary>Whether a gradient is added to what its buffer holds or overwrites it (a fresh gradient: its contents are never read).</summary>
internal interface IWriteMode
{
    static abstract bool Accumulate { get; }
}

internal readonly struct AccumulateOutput : IWriteMode
{
    public static bool Accumulate => true;
}

internal readonly struct OverwriteOutput : IWriteMode
{
    public static bool Accumulate => false;
}

/// <summary>Whether a 2×2, stride-2 max-pool is fused into the convolution's output (inference: the pooled map is all it writes).</summary>
internal interface IPoolFusion
{
    static abstract bool Enabled { get; }
}

internal readonly struct NoPool : IPoolFusion
{
    public static bool Enabled => false;
}

internal readonly struct FusedPool : IPoolFusion
{
    public static bool Enabled => true;
}
