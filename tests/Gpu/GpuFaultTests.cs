using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;
using NativeConv.Gpu;
using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Support;
using FloatView = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace NativeConv.Tests.Gpu;

/// <summary>
/// Device failures of the ILGPU backend — out of memory, a kernel that does not compile, a launch that fails, a kernel that
/// fails asynchronously — each surface as one <see cref="GpuException"/> naming the device, the operation and a remedy,
/// through the ops as well, and leave the backend usable with correct numbers. ILGPU's CPU accelerator cannot run out of
/// memory or lose a device, so those faults come through <see cref="IlgpuBackend.FaultInjection"/>, which fires exactly where
/// the real ILGPU call would throw; the compile and launch failures are also provoked for real.
/// </summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public sealed class GpuFaultTests : IDisposable
{
    private static IlgpuBackend Gpu => TestBackends.IlgpuCpu;

    public void Dispose() => Gpu.FaultInjection = null;

    /// <summary>Throws <paramref name="error"/> at <paramref name="point"/> the first <paramref name="times"/> times.</summary>
    private static void Inject(GpuFaultPoint point, Func<string, Exception> error, int times = int.MaxValue)
    {
        int left = times;
        Gpu.FaultInjection = (at, operation) =>
        {
            if (at == point && left > 0) { left--; throw error(operation); }
        };
    }

    private static void AssertNamesDeviceOperationAndRemedy(GpuException e, string operation)
    {
        Assert.StartsWith(Gpu.Name + ": ", e.Message);
        Assert.Contains(operation, e.Message);
        Assert.Contains("Remedy: ", e.Message);
        Assert.NotNull(e.InnerException); // the driver's own error is kept
    }

    /// <summary>The backend still computes correct numbers: fill, axpy, download.</summary>
    private static void AssertBackendWorks(int length = 37)
    {
        using var t = Tensor.Zeros(new Shape(length), Gpu);
        Gpu.Fill(t, 1.5f);
        Gpu.Axpy(2f, t, t);
        Assert.All(t.ToArray(), v => Assert.Equal(4.5f, v));
    }

    // ------------------------------------------------------------------------------------------------------------- memory

    [Fact]
    public void Out_of_memory_at_allocation_names_device_size_pool_and_remedy_and_frees_the_pool()
    {
        Gpu.Release(Gpu.Allocate(3001)); // a pooled buffer of another length: the retry frees it
        Assert.True(Gpu.PooledBytes >= 3001 * sizeof(float));
        Inject(GpuFaultPoint.Allocate, _ => new OutOfMemoryException("injected: device full"));

        var e = Assert.Throws<GpuException>(() => Gpu.Allocate(12_345));

        AssertNamesDeviceOperationAndRemedy(e, "Allocate(12345 floats)");
        Assert.Contains("out of device memory", e.Message);
        Assert.Contains("bytes requested", e.Message);
        Assert.Contains("smaller batch size", e.Message);
        Assert.IsType<OutOfMemoryException>(e.InnerException);
        Assert.Equal(0, Gpu.PooledBytes); // the retry trimmed the pool before giving up
        Gpu.FaultInjection = null;
        AssertBackendWorks(12_345); // nothing half-made was pooled: the same length allocates afresh and computes
    }

    [Fact]
    public void Out_of_memory_once_is_retried_after_freeing_the_pool_and_succeeds()
    {
        Gpu.Release(Gpu.Allocate(3002));
        Inject(GpuFaultPoint.Allocate, _ => new OutOfMemoryException("injected"), times: 1);

        var storage = Gpu.Allocate(777);

        Assert.Equal(777, storage.Length);
        Assert.Equal(0, Gpu.PooledBytes);
        Gpu.Release(storage);
        Gpu.FaultInjection = null;
        AssertBackendWorks(777);
    }

    [Fact]
    public void A_driver_out_of_memory_code_is_reported_as_out_of_memory_and_another_code_is_not()
    {
        // OpenCL's exception type: CUDA's cannot be constructed without the NVIDIA driver (it asks it for the message).
        Inject(GpuFaultPoint.Allocate, _ => new CLException(CLError.CL_MEM_OBJECT_ALLOCATION_FAILURE));
        var oom = Assert.Throws<GpuException>(() => Gpu.Allocate(4001));
        AssertNamesDeviceOperationAndRemedy(oom, "Allocate(4001 floats)");
        Assert.Contains("out of device memory", oom.Message);

        // A sticky error of an earlier kernel surfaces at the next driver call, often an allocation: not a memory problem.
        Inject(GpuFaultPoint.Allocate, _ => new CLException(CLError.CL_INVALID_COMMAND_QUEUE));
        var other = Assert.Throws<GpuException>(() => Gpu.Allocate(4001));
        AssertNamesDeviceOperationAndRemedy(other, "Allocate(4001 floats) failed");
        Assert.DoesNotContain("out of device memory", other.Message);
        Assert.Contains("CL_INVALID_COMMAND_QUEUE", other.Message);
        Gpu.FaultInjection = null;
        AssertBackendWorks(4001);
    }

    [Fact]
    public void Out_of_memory_inside_an_op_propagates_as_the_gpu_exception()
    {
        using var a = Tensor.FromArray(TestRandom.Uniform(6, 1), new Shape(2, 3), Gpu);
        using var b = Tensor.FromArray(TestRandom.Uniform(12, 2), new Shape(3, 4), Gpu);
        Inject(GpuFaultPoint.Allocate, _ => new OutOfMemoryException("injected"));

        var e = Assert.Throws<GpuException>(() => Op.MatMul(a, b));

        Assert.Contains("out of device memory", e.Message);
        Gpu.FaultInjection = null;
        using var c = Op.MatMul(a, b);
        Assert.Equal(new Shape(2, 4), c.Shape);
    }

    // ------------------------------------------------------------------------------------------------------------- compile

    [Fact]
    public void Compile_failure_names_device_kernel_and_remedy_and_the_next_load_compiles()
    {
        Inject(GpuFaultPoint.Compile, kernel => new InvalidOperationException($"injected: cannot compile {kernel}"));

        var e = Assert.Throws<GpuException>(() =>
            Gpu.Load(nameof(TestKernels.Scale), a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, float>(TestKernels.Scale)));

        AssertNamesDeviceOperationAndRemedy(e, "compiling kernel TestKernels.Scale failed");
        Assert.Contains("injected: cannot compile TestKernels.Scale", e.Message);
        Gpu.FaultInjection = null;
        var scale = Gpu.Load(nameof(TestKernels.Scale), a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, float>(TestKernels.Scale));
        using var t = Tensor.FromArray([1f, 2f, 3f], new Shape(3), Gpu);
        scale(3, Gpu.View(t), 2f);
        Assert.Equal([2f, 4f, 6f], t.ToArray());
    }

    [Fact]
    public void A_kernel_ilgpu_cannot_compile_is_a_compile_failure_not_a_raw_ilgpu_error()
    {
        var e = Assert.Throws<GpuException>(() =>
            Gpu.Load(nameof(TestKernels.AllocatesAnArray), a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView>(TestKernels.AllocatesAnArray)));

        AssertNamesDeviceOperationAndRemedy(e, "compiling kernel TestKernels.AllocatesAnArray failed");
        AssertBackendWorks();
    }

    [Fact]
    public void Compile_failure_of_a_backend_kernel_surfaces_through_the_op()
    {
        // A fresh backend: the shared one may have compiled the GEMM already (each kernel is loaded once and cached).
        using var fresh = GpuDevices.CreateBackend("ilgpu-cpu");
        fresh.FaultInjection = (at, kernel) => { if (at == GpuFaultPoint.Compile) throw new NotSupportedException($"injected: {kernel}"); };
        using var a = Tensor.FromArray(TestRandom.Uniform(6, 1), new Shape(2, 3), fresh);
        using var b = Tensor.FromArray(TestRandom.Uniform(12, 2), new Shape(3, 4), fresh);

        var e = Assert.Throws<GpuException>(() => Op.MatMul(a, b));

        Assert.StartsWith(fresh.Name + ": compiling kernel Gemm.Tiled failed", e.Message);
        Assert.Contains("Remedy: ", e.Message);
    }

    // ------------------------------------------------------------------------------------------------------------- launch

    [Fact]
    public void Launch_failure_names_device_kernel_operation_and_remedy_and_the_backend_stays_usable()
    {
        using var t = Tensor.FromArray([1f, 2f, 3f], new Shape(3), Gpu);
        Gpu.Fill(t, 0f); // compiled before the fault, so the launch (not the load) fails
        Inject(GpuFaultPoint.Launch, kernel => new InvalidOperationException($"injected launch failure of {kernel}"));

        var e = Assert.Throws<GpuException>(() => Gpu.Fill(t, 5f));

        AssertNamesDeviceOperationAndRemedy(e, "launching kernel Elementwise.Fill for Fill failed");
        Assert.Contains("injected launch failure of Elementwise.Fill", e.Message);
        Assert.Equal(new float[3], t.ToArray()); // the kernel did not run
        Gpu.FaultInjection = null;
        AssertBackendWorks();
    }

    [Fact]
    public void A_launch_ilgpu_rejects_is_a_launch_failure_not_a_raw_ilgpu_error()
    {
        // Real: a group of more threads than the accelerator allows is refused by ILGPU at launch.
        var kernel = Gpu.Load(nameof(TestKernels.GroupedScale), a => a.LoadStreamKernel<FloatView, float>(TestKernels.GroupedScale));
        using var t = Tensor.FromArray(TestRandom.Uniform(64, 3), new Shape(64), Gpu);
        int tooMany = Gpu.Accelerator.MaxNumThreadsPerGroup * 2;

        var e = Assert.Throws<GpuException>(() => kernel(new KernelConfig(new Index1D(1), new Index1D(tooMany)), Gpu.View(t), 2f));

        AssertNamesDeviceOperationAndRemedy(e, "launching kernel TestKernels.GroupedScale failed");
        AssertBackendWorks();
    }

    [Fact]
    public void Launch_failure_inside_ops_propagates_as_the_gpu_exception()
    {
        using var a = Tensor.FromArray(TestRandom.Uniform(6, 1), new Shape(2, 3), Gpu);
        using var b = Tensor.FromArray(TestRandom.Uniform(12, 2), new Shape(3, 4), Gpu);
        using var x = Tensor.FromArray(TestRandom.Uniform(2 * 2 * 5 * 5, 3), new Shape(2, 2, 5, 5), Gpu);
        using var w = Tensor.FromArray(TestRandom.Uniform(3 * 2 * 3 * 3, 4), new Shape(3, 2, 3, 3), Gpu);
        using var bias = Tensor.FromArray(TestRandom.Uniform(3, 5), new Shape(3), Gpu);
        using (Op.MatMul(a, b)) { }
        using (Op.Conv2D(x, w, bias, 1, Padding.Same)) { } // every kernel compiled: the launch is what fails below
        Inject(GpuFaultPoint.Launch, kernel => new InvalidOperationException($"injected: {kernel}"));

        var matMul = Assert.Throws<GpuException>(() => Op.MatMul(a, b));
        Assert.Contains("launching kernel Gemm.Tiled for MatMul failed", matMul.Message);
        var conv = Assert.Throws<GpuException>(() => Op.Conv2D(x, w, bias, 1, Padding.Same));
        AssertNamesDeviceOperationAndRemedy(conv, "launching kernel ");

        Gpu.FaultInjection = null;
        using var c = Op.MatMul(a, b);
        Assert.Equal(MatMulReference(a.ToArray(), b.ToArray(), 2, 3, 4), c.ToArray(), FloatComparer(1e-5f));
    }

    [Fact]
    public void Launch_on_a_disposed_backend_is_object_disposed_naming_the_device()
    {
        var own = GpuDevices.CreateBackend("ilgpu-cpu");
        var kernel = own.Load(nameof(TestKernels.Scale), a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, float>(TestKernels.Scale));
        var t = Tensor.Zeros(new Shape(4), own);
        var view = own.View(t);
        own.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => kernel(4, view, 2f));
        Assert.Contains(own.Name, e.Message);
        Assert.Throws<ObjectDisposedException>(() => own.Fill(t, 1f));
        Assert.Throws<ObjectDisposedException>(() => t.ToArray());
        Assert.Throws<ObjectDisposedException>(() => own.Allocate(4));
    }

    // ------------------------------------------------------------------------------------------------------------- asynchronous failure

    [Fact]
    public void A_kernel_failure_reported_at_the_next_wait_stops_the_download_before_any_number_is_copied()
    {
        using var t = Tensor.FromArray([1f, 2f, 3f, 4f], new Shape(4), Gpu);
        // CUDA and OpenCL report a kernel that failed after its launch at the next wait on the stream.
        Inject(GpuFaultPoint.Synchronize, _ => new CLException(CLError.CL_OUT_OF_RESOURCES), times: 1);
        var host = new float[4];
        Array.Fill(host, float.NaN);

        var e = Assert.Throws<GpuException>(() => Gpu.Download(t, host));

        AssertNamesDeviceOperationAndRemedy(e, "Download device→host");
        Assert.All(host, v => Assert.True(float.IsNaN(v), "a number reached the host after the failure"));

        Inject(GpuFaultPoint.Synchronize, _ => new CLException(CLError.CL_OUT_OF_RESOURCES), times: 1);
        var sync = Assert.Throws<GpuException>(Gpu.Synchronize);
        AssertNamesDeviceOperationAndRemedy(sync, "Synchronize");

        Inject(GpuFaultPoint.Synchronize, _ => new CLException(CLError.CL_OUT_OF_RESOURCES), times: 1);
        var upload = Assert.Throws<GpuException>(() => Gpu.Upload([9f, 9f, 9f, 9f], t));
        AssertNamesDeviceOperationAndRemedy(upload, "Upload host→device");

        Gpu.FaultInjection = null;
        AssertBackendWorks();
    }

    [Fact]
    public void A_buffer_the_driver_fails_to_free_is_still_dropped_from_the_pool()
    {
        var storage = Gpu.Allocate(5003);
        Gpu.Release(storage);
        Inject(GpuFaultPoint.Free, _ => new CLException(CLError.CL_INVALID_MEM_OBJECT), times: 1);

        var e = Assert.Throws<GpuException>(Gpu.TrimPool);

        AssertNamesDeviceOperationAndRemedy(e, "TrimPool");
        Assert.Equal(0, Gpu.PooledBytes);
        Gpu.FaultInjection = null;
        Assert.NotSame(storage, Gpu.Allocate(5003)); // never handed out again
    }

    [Fact]
    public void Dispose_after_a_device_failure_does_not_throw_over_the_first_error()
    {
        var own = GpuDevices.CreateBackend("ilgpu-cpu");
        own.Release(own.Allocate(16)); // something in the pool to free
        int calls = 0;
        own.FaultInjection = (_, _) => { calls++; throw new CLException(CLError.CL_INVALID_COMMAND_QUEUE); };

        own.Dispose(); // must not throw: it runs while the first error unwinds

        Assert.Equal(2, calls); // the wait and the pooled buffer's free both failed, and both were passed over
        Assert.Equal(0, own.PooledBytes);
        Assert.Throws<ObjectDisposedException>(() => own.Allocate(16));
    }

    // ------------------------------------------------------------------------------------------------------------- helpers

    private static float[] MatMulReference(float[] a, float[] b, int m, int k, int n)
    {
        var c = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += (double)a[i * k + p] * b[p * n + j];
                c[i * n + j] = (float)sum;
            }
        return c;
    }

    private static IEqualityComparer<float> FloatComparer(float tolerance) => new ToleranceComparer(tolerance);

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance * Math.Max(1f, Math.Abs(y));
        public int GetHashCode(float obj) => 0;
    }
}

/// <summary>Kernels used only by the fault tests.</summary>
internal static class TestKernels
{
    // values (n) *= factor
    public static void Scale(Index1D i, FloatView values, float factor) => values[i] *= factor;

    // values (group size) *= factor, one explicitly sized group
    public static void GroupedScale(FloatView values, float factor)
    {
        int i = Grid.GlobalIndex.X;
        if (i < values.Length) values[i] *= factor;
    }

    // ILGPU kernels cannot allocate managed arrays: compiling this one must fail.
    public static void AllocatesAnArray(Index1D i, FloatView values)
    {
        var scratch = new float[(int)values.Length];
        values[i] = scratch[i];
    }
}
