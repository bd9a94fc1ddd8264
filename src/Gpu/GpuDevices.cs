using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using NativeConv.Tensors.Backends;

namespace NativeConv.Gpu;

/// <summary>What ILGPU reports about one device.</summary>
public sealed record GpuDeviceInfo(
    string Id, DeviceKind Kind, string Name, long MemoryBytes, int WarpSize, int MaxThreadsPerGroup, int Multiprocessors)
{
    public override string ToString() =>
        $"{Id}: {Name}, {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, warp {WarpSize}, {MaxThreadsPerGroup} threads/group, {Multiprocessors} multiprocessors";
}

/// <summary>
/// Accelerator discovery and backend creation. Device ids: "cuda" / "cuda:N", "opencl" / "opencl:N", and "ilgpu-cpu"
/// (ILGPU's CPU accelerator: the GPU kernels run on host threads, for tests and debugging).
/// </summary>
public static class GpuDevices
{
    /// <summary>Every device ILGPU finds (CUDA, OpenCL, and the CPU accelerator, which is always there).</summary>
    public static IReadOnlyList<GpuDeviceInfo> List()
    {
        var result = new List<GpuDeviceInfo>();
        foreach (var kind in new[] { DeviceKind.Cuda, DeviceKind.OpenCL, DeviceKind.IlgpuCpu })
        {
            Context context;
            try { context = CreateContext(kind); }
            catch (Exception) { continue; } // a missing runtime means no device of that kind
            using (context)
            {
                var devices = DevicesOf(context, kind);
                for (int i = 0; i < devices.Count; i++) result.Add(Describe(devices[i], kind, i));
            }
        }
        return result;
    }

    /// <summary>Why no CUDA device can be used here, or null when at least one can.</summary>
    public static string? CudaUnavailableReason()
    {
        try
        {
            using var context = CreateContext(DeviceKind.Cuda);
            return DevicesOf(context, DeviceKind.Cuda).Count > 0 ? null : NoDeviceDetail(DeviceKind.Cuda);
        }
        catch (Exception e)
        {
            return $"ILGPU could not initialise CUDA ({e.GetType().Name}: {e.Message}).";
        }
    }

    /// <summary>
    /// A backend on the device named by <paramref name="id"/> ("cuda", "cuda:1", "opencl", "ilgpu-cpu").
    /// Throws <see cref="GpuException"/> naming the device and the remedy when there is no such device or driver.
    /// </summary>
    public static IlgpuBackend CreateBackend(string id)
    {
        var (kind, index) = Parse(id);
        Context context;
        try { context = CreateContext(kind); }
        catch (Exception e) { throw GpuException.NoDevice(id, $"ILGPU could not initialise {KindName(kind)} ({e.GetType().Name}: {e.Message})."); }
        try
        {
            var devices = DevicesOf(context, kind);
            if (devices.Count == 0)
                throw GpuException.NoDevice(id, NoDeviceDetail(kind));
            if (index >= devices.Count)
                throw GpuException.NoDevice(id, $"device index {index} was requested but ILGPU found {devices.Count} {KindName(kind)} device(s) (indices 0..{devices.Count - 1}).");
            var info = Describe(devices[index], kind, index);
            Accelerator accelerator;
            try { accelerator = devices[index].CreateAccelerator(context); }
            catch (Exception e) { throw GpuException.AcceleratorFailed($"{info.Id} ({info.Name})", e); }
            return new IlgpuBackend(context, accelerator, info);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static (DeviceKind Kind, int Index) Parse(string id)
    {
        string name = id.Trim().ToLowerInvariant();
        int index = 0;
        int colon = name.IndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(name.AsSpan(colon + 1), out index) || index < 0)
                throw new ArgumentException($"Device '{id}': the index after ':' must be a non-negative integer, e.g. 'cuda:0'.");
            name = name[..colon];
        }
        return name switch
        {
            "cuda" => (DeviceKind.Cuda, index),
            "opencl" => (DeviceKind.OpenCL, index),
            "ilgpu-cpu" => (DeviceKind.IlgpuCpu, index),
            _ => throw new ArgumentException($"Device '{id}' is not known to the GPU backend; use 'cuda', 'cuda:N', 'opencl', 'opencl:N' or 'ilgpu-cpu' (or 'cpu' for the SIMD CPU engine)."),
        };
    }

    private static Context CreateContext(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => Context.Create(b => b.Cuda().EnableAlgorithms()),
        DeviceKind.OpenCL => Context.Create(b => b.OpenCL().EnableAlgorithms()),
        // The default CPU device: 16 threads a group, warp 4 — enough to exercise shared memory and barriers.
        DeviceKind.IlgpuCpu => Context.Create(b => b.CPU(CPUDeviceKind.Default).EnableAlgorithms()),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not an ILGPU device kind"),
    };

    private static List<Device> DevicesOf(Context context, DeviceKind kind)
    {
        var type = kind switch
        {
            DeviceKind.Cuda => AcceleratorType.Cuda,
            DeviceKind.OpenCL => AcceleratorType.OpenCL,
            _ => AcceleratorType.CPU,
        };
        var list = new List<Device>();
        foreach (var device in context.Devices)
            if (device.AcceleratorType == type) list.Add(device);
        return list;
    }

    private static GpuDeviceInfo Describe(Device device, DeviceKind kind, int index) => new(
        kind == DeviceKind.IlgpuCpu ? (index == 0 ? "ilgpu-cpu" : $"ilgpu-cpu:{index}") : $"{KindName(kind)}:{index}",
        kind, device.Name, device.MemorySize, device.WarpSize, device.MaxNumThreadsPerGroup, device.NumMultiprocessors);

    private static string KindName(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => "cuda",
        DeviceKind.OpenCL => "opencl",
        _ => "ilgpu-cpu",
    };

    private static string NoDeviceDetail(DeviceKind kind)
    {
        if (kind == DeviceKind.Cuda)
        {
            string library = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
            if (!NativeLibrary.TryLoad(library, out var handle))
                return $"the NVIDIA driver library {library} could not be loaded (no driver installed, or not on the library path).";
            NativeLibrary.Free(handle);
            return "the NVIDIA driver is installed but ILGPU found no CUDA device (check nvidia-smi and CUDA_VISIBLE_DEVICES).";
        }
        if (kind == DeviceKind.OpenCL)
            return "ILGPU found no usable OpenCL device (it needs an OpenCL 2.0+ GPU driver; CPU runtimes such as PoCL are rejected).";
        return "ILGPU found no CPU accelerator.";
    }
}
