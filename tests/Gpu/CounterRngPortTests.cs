using CpuRng = NativeConv.Tensors.Backends.Cpu.Kernels.CounterRng;
using GpuRng = NativeConv.Gpu.Kernels.CounterRng;

namespace NativeConv.Tests.Gpu;

/// <summary>The GPU's copy of the counter hash is the CPU's, bit for bit (host-side check of the ported functions).</summary>
public class CounterRngPortTests
{
    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(0xC0FFEEUL)]
    [InlineData(ulong.MaxValue)]
    public void Gpu_port_matches_cpu(ulong seed)
    {
        Assert.Equal(CpuRng.Key(seed), GpuRng.Key(seed));
        ulong key = CpuRng.Key(seed);
        foreach (long i in new long[] { 0, 1, 2, 255, 256, 65_537, int.MaxValue, (long)int.MaxValue + 12 })
        {
            Assert.Equal(CpuRng.Bits24(key, i), GpuRng.Bits24(key, i));
            Assert.Equal(CpuRng.Uniform(key, i), GpuRng.Uniform(key, i));
        }
    }
}
