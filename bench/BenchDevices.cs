using NativeConv.Gpu;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Bench;

/// <summary>
/// Which devices the CPU-vs-GPU and train-step benchmarks measure. `--device D` on the bench command line (read by
/// <see cref="Program"/> and passed to the benchmark processes as the NATIVECONV_BENCH_DEVICE variable) names one ILGPU
/// device: cuda, cuda:N, opencl[:N] or ilgpu-cpu. Without it ("auto"): every CUDA and OpenCL accelerator ILGPU finds, or —
/// when there is none — ILGPU's CPU accelerator, which emulates the GPU kernels: it proves the harness, it is not a speed
/// target, so it is measured at the smallest sizes only.
/// </summary>
public static class BenchDevices
{
    public const string EnvironmentVariable = "NATIVECONV_BENCH_DEVICE";

    private static readonly Dictionary<string, IlgpuBackend> s_backends = new(StringComparer.Ordinal);

    /// <summary>The ILGPU device ids to measure (never empty: ilgpu-cpu when no GPU is found).</summary>
    public static IReadOnlyList<string> GpuIds()
    {
        string requested = (Environment.GetEnvironmentVariable(EnvironmentVariable) ?? "auto").Trim().ToLowerInvariant();
        if (requested is not ("auto" or ""))
            return [requested == "cuda" ? "cuda:0" : requested == "opencl" ? "opencl:0" : requested];
        var ids = new List<string>();
        foreach (var device in GpuDevices.List())
            if (device.Kind is DeviceKind.Cuda or DeviceKind.OpenCL) ids.Add(device.Id);
        if (ids.Count == 0) ids.Add("ilgpu-cpu");
        return ids;
    }

    /// <summary>True for ILGPU's CPU accelerator (emulation: smallest sizes only, labelled as such).</summary>
    public static bool IsEmulator(string id) => id.StartsWith("ilgpu-cpu", StringComparison.Ordinal);

    /// <summary>"cpu" → the SIMD engine; anything else → the (per-process cached) ILGPU backend of that id.</summary>
    public static IBackend Backend(string id)
    {
        if (id == "cpu") return CpuBackend.Instance;
        lock (s_backends)
        {
            if (!s_backends.TryGetValue(id, out var backend))
                s_backends[id] = backend = GpuDevices.CreateBackend(id);
            return backend;
        }
    }

    /// <summary>How a device shows in a benchmark's parameter column.</summary>
    public static string Label(string id) => IsEmulator(id) ? $"{id} (emulated, not a speed target)" : id;
}
