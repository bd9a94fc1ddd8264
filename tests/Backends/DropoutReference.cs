using CpuRng = NativeConv.Tensors.Backends.Cpu.Kernels.CounterRng;

namespace NativeConv.Tests.Backends;

/// <summary>
/// The keep/drop rule every backend must reproduce bit for bit — the CPU's definition: element i is dropped when
/// CounterRng.Uniform(Key(seed), i) is below the rate.
/// </summary>
public static class DropoutReference
{
    public static bool Keep(ulong seed, long index, float rate) => CpuRng.Uniform(CpuRng.Key(seed), index) >= rate;
}
