using System.CommandLine;
using System.Globalization;
using NativeConv.Gpu;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;
using Spectre.Console;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `devices`: what --device can name on this machine — the SIMD CPU engine (vector path, threads) and every accelerator ILGPU
/// finds (name, kind, memory, warp size, max threads per group, multiprocessors) — as one table, then the CPU engine's
/// vector path, caches and kernel settings (from the environment), and what `--device auto` would pick and why. Works
/// without a GPU: ILGPU's CPU accelerator is always listed.
/// </summary>
public static class DevicesCommand
{
    public static Command Create(EngineEnvironment engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var command = new Command("devices", "List the devices --device can use: the CPU engine and every ILGPU accelerator (CUDA, OpenCL, CPU emulation).");
        command.SetAction(result =>
        {
            var console = CommandIo.Console(result);
            var table = new Table().Border(TableBorder.Simple)
                .AddColumn("--device")
                .AddColumn("Kind")
                .AddColumn("Name")
                .AddColumn(new TableColumn("Memory").RightAligned())
                .AddColumn(new TableColumn("Warp").RightAligned())
                .AddColumn(new TableColumn("Max group").RightAligned())
                .AddColumn(new TableColumn("Multiprocessors").RightAligned());

            long hostMemory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            table.AddRow("cpu", "CPU engine", Markup.Escape($"SIMD {SimdPath.Current}, {Engine.Threads} threads"),
                Gib(hostMemory), "-", "-", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) + " cores");

            foreach (var device in GpuDevices.List())
                table.AddRow(Markup.Escape(device.Id), KindName(device.Kind), Markup.Escape(device.Name),
                    // The CPU accelerator reports a nominal 2^63 bytes: it allocates from host memory.
                    device.Kind == DeviceKind.IlgpuCpu ? "host" : Gib(device.MemoryBytes),
                    Int(device.WarpSize), Int(device.MaxThreadsPerGroup), Int(device.Multiprocessors));
            console.Write(table);

            // Plain lines (not table cells): a header-like "key: value" a script can grep, never wrapped by the table.
            var cpuKernels = new EngineOptions { ConvAlgorithm = engine.ConvAlgorithm, FuseConvRelu = engine.FuseConvRelu };
            console.WriteLine($"CPU vector path: {SimdPath.Current}");
            console.WriteLine($"CPU caches: {CpuCaches.Current.Describe()}");
            console.WriteLine($"CPU kernels: {cpuKernels.DescribeCpuKernels()} ({EngineEnvironment.ConvAlgorithmVariable}, {EngineEnvironment.FuseVariable})");

            string? noCuda = GpuDevices.CudaUnavailableReason();
            console.WriteLine(noCuda is null
                ? "CUDA: available; --device auto picks cuda:0."
                : $"CUDA: none; {noCuda.TrimEnd('.')}. --device auto picks cpu.");
            console.WriteLine("ilgpu-cpu runs the GPU kernels emulated on host threads: for checking kernels, not for speed.");
            return 0;
        });
        return command;
    }

    private static string KindName(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => "CUDA",
        DeviceKind.OpenCL => "OpenCL",
        DeviceKind.IlgpuCpu => "ILGPU CPU accelerator",
        _ => kind.ToString(),
    };

    private static string Gib(long bytes) => (bytes / (1024.0 * 1024 * 1024)).ToString("F1", CultureInfo.InvariantCulture) + " GiB";

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
