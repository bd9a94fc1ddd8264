using NativeConv.Gpu;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gpu;

/// <summary>Discovery, errors, pooling and kernel caching of the ILGPU backend (on ILGPU's CPU accelerator).</summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public class IlgpuBackendTests
{
    private static IlgpuBackend Gpu => TestBackends.IlgpuCpu;

    [Fact]
    public void Discovery_lists_the_cpu_accelerator_with_its_limits()
    {
        var devices = GpuDevices.List();
        var cpu = Assert.Single(devices, d => d.Kind == DeviceKind.IlgpuCpu);
        Assert.Equal("ilgpu-cpu", cpu.Id);
        Assert.True(cpu.WarpSize >= 1 && cpu.MaxThreadsPerGroup >= cpu.WarpSize && cpu.Multiprocessors >= 1, cpu.ToString());
    }

    [Fact]
    public void Group_sizes_come_from_the_accelerator()
    {
        var accelerator = Gpu.Accelerator;
        Assert.True(Gpu.ReductionGroupSize <= accelerator.MaxNumThreadsPerGroup);
        Assert.True(Gpu.GemmGroupSide * Gpu.GemmGroupSide <= accelerator.MaxNumThreadsPerGroup);
        Assert.Equal(0, Gpu.ReductionGroupSize & (Gpu.ReductionGroupSize - 1)); // power of two: the tree reduction needs it
    }

    [Fact]
    public void Missing_cuda_device_is_a_clear_error_naming_device_and_remedy()
    {
        if (TestBackends.CudaSkipReason is null) return; // a CUDA machine: nothing to report (the CUDA suite runs instead)
        var e = Assert.Throws<GpuException>(() => GpuDevices.CreateBackend("cuda"));
        Assert.Contains("No cuda device", e.Message);
        Assert.Contains("Remedy", e.Message);
        Assert.Contains("--device cpu", e.Message);
    }

    [Fact]
    public void Unknown_device_index_and_name_are_rejected()
    {
        var e = Assert.Throws<GpuException>(() => GpuDevices.CreateBackend("ilgpu-cpu:7"));
        Assert.Contains("index 7", e.Message);
        var bad = Assert.Throws<ArgumentException>(() => GpuDevices.CreateBackend("tpu"));
        Assert.Contains("'cuda'", bad.Message);
    }

    [Fact]
    public void Tensors_on_different_devices_in_one_op_name_both_devices()
    {
        using var onCpu = Tensor.FromArray(TestRandom.Uniform(6, 1), new Shape(2, 3), CpuBackend.Instance);
        using var onGpu = Tensor.FromArray(TestRandom.Uniform(6, 2), new Shape(3, 2), Gpu);
        var e = Assert.Throws<ArgumentException>(() => Op.MatMul(onCpu, onGpu));
        Assert.Contains(CpuBackend.Instance.Name, e.Message);
        Assert.Contains(Gpu.Name, e.Message);
        Assert.Contains("MatMul", e.Message);
    }

    [Fact]
    public void A_host_tensor_given_to_a_gpu_kernel_is_rejected_with_both_devices()
    {
        using var onCpu = Tensor.FromArray([1f, 2f], new Shape(2), CpuBackend.Instance);
        var e = Assert.Throws<ArgumentException>(() => Gpu.Fill(onCpu, 0f));
        Assert.Contains(Gpu.Name, e.Message);
        Assert.Contains(CpuBackend.Instance.Name, e.Message);
    }

    [Fact]
    public void Device_buffers_are_pooled_by_exact_length_and_reused()
    {
        const int length = 4099; // a length no other test uses
        var first = Gpu.Allocate(length);
        Gpu.Release(first);
        var second = Gpu.Allocate(length);
        Assert.Same(first, second);
        var other = Gpu.Allocate(length + 1);
        Assert.NotSame(first, other);
        Gpu.Release(second);
        Gpu.Release(other);
    }

    [Fact]
    public void Each_kernel_is_compiled_once_and_cached()
    {
        using var t = Tensor.Zeros(new Shape(5), Gpu);
        Gpu.Axpy(1f, t, t); // ensure loaded
        int loaded = Gpu.KernelsLoaded;
        for (int i = 0; i < 3; i++) { Gpu.Axpy(1f, t, t); Gpu.Fill(t, 1f); }
        Assert.Equal(loaded, Gpu.KernelsLoaded);
    }

    [Fact]
    public void Clone_moves_a_tensor_between_devices_exactly()
    {
        var values = TestRandom.Uniform(37, 5);
        using var onCpu = Tensor.FromArray(values, new Shape(37), CpuBackend.Instance);
        using var onGpu = onCpu.Clone(Gpu);
        Assert.Same(Gpu, onGpu.Backend);
        using var back = onGpu.Clone(CpuBackend.Instance);
        Assert.Equal(values, back.ToArray());
    }

    [Fact]
    public void MatMul_with_empty_inner_dimension_scales_c_by_beta()
    {
        // op(a)·op(b) with K = 0 is the zero matrix: c = beta·c, and beta = 0 must overwrite even NaN.
        using var a = Tensor.Zeros(new Shape(3, 0), Gpu);
        using var b = Tensor.Zeros(new Shape(0, 2), Gpu);
        using var c = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], new Shape(3, 2), Gpu);
        Gpu.MatMul(a, false, b, false, c, 1f, 0.5f);
        Assert.Equal([0.5f, 1f, 1.5f, 2f, 2.5f, 3f], c.ToArray());
        Gpu.Fill(c, float.NaN);
        Gpu.MatMul(a, false, b, false, c, 1f, 0f);
        Assert.Equal(new float[6], c.ToArray());
    }
}
