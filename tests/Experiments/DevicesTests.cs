using System.Globalization;
using NativeConv.Experiments;
using NativeConv.Experiments.Commands;
using NativeConv.Gpu;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Tests.Experiments;

/// <summary>
/// --device parsing and resolution, and the `devices` command, through the real command line (Program.Run in-process).
/// Runs in the engine-settings collection (alone): choosing a device sets Engine.DefaultBackend process-wide, which every
/// test here puts back to the CPU engine.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)]
public class DevicesTests
{
    private static readonly string? NoCudaReason = GpuDevices.CudaUnavailableReason();

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int threads = Engine.Threads;
        try
        {
            int code = Program.Run(args, output, error);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Engine.DefaultBackend = CpuBackend.Instance;
            Engine.Threads = threads;
        }
    }

    [Theory]
    [InlineData("cpu", "cpu")]
    [InlineData("CPU", "cpu")]
    [InlineData(" auto ", "auto")]
    [InlineData("cuda", "cuda:0")]
    [InlineData("cuda:0", "cuda:0")]
    [InlineData("cuda:3", "cuda:3")]
    [InlineData("CUDA:01", "cuda:1")]
    [InlineData("opencl", "opencl:0")]
    [InlineData("opencl:2", "opencl:2")]
    [InlineData("ilgpu-cpu", "ilgpu-cpu")]
    public void Accepted_device_names_normalize_to_one_id(string name, string expected)
    {
        Assert.Equal(expected, Devices.Normalize(name));
        Assert.Null(Devices.ValidationError(name));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("tpu")]
    [InlineData("")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cpu:0")]
    [InlineData("ilgpu")]
    [InlineData("cudaa")]
    public void Rejected_device_names_get_the_list_of_valid_ones(string name)
    {
        Assert.Null(Devices.Normalize(name));
        Assert.Contains("Valid devices: auto, cpu, cuda, cuda:N, opencl, opencl:N, ilgpu-cpu", Devices.ValidationError(name));
        Assert.Throws<ArgumentException>(() => Devices.Resolve(name));
    }

    [Fact]
    public void An_unknown_device_on_the_command_line_is_a_usage_error_naming_the_valid_ones()
    {
        var (code, output, error) = Run("throughput", "--model", "fmnist-mlp", "--device", "tpu");
        Assert.NotEqual(0, code);
        Assert.Contains("Unknown device 'tpu'", error);
        Assert.DoesNotContain("images/s", output);
    }

    [Fact]
    public void Auto_picks_cuda_when_present_else_the_cpu_engine_and_prints_why()
    {
        var (code, output, error) = Run("throughput", "--model", "fmnist-mlp", "--batch", "2", "--steps", "1", "--warmup", "0", "--warmup-seconds", "0", "--threads", "1", "--device", "auto");
        Assert.True(code == 0, error);
        var deviceLine = Assert.Single(Lines(output), l => l.StartsWith("device:", StringComparison.Ordinal));
        if (NoCudaReason is not null)
        {
            Assert.Contains("auto → cpu: no CUDA device; ", deviceLine);
            Assert.Contains(NoCudaReason.TrimEnd('.'), deviceLine);
            Assert.Contains(Lines(output), l => l.StartsWith("backend:", StringComparison.Ordinal) && l.Contains("cpu (", StringComparison.Ordinal));
        }
        else
        {
            Assert.Contains("auto → cuda:0: CUDA device found", deviceLine);
        }
    }

    [Fact]
    public void Auto_falls_back_to_the_cpu_engine_when_a_cuda_device_is_found_but_cannot_be_set_up()
    {
        const string failure = "cuda:0 (NVIDIA H100): creating the accelerator failed: CUDA_ERROR_OUT_OF_MEMORY. Remedy: free the device.";
        var choice = Devices.ChooseAuto("auto", () => null, () => throw new InvalidOperationException(failure, new GpuException(failure)));
        Assert.Same(CpuBackend.Instance, choice.Backend);
        Assert.Contains("a CUDA device was found but could not be used, so the CPU engine runs instead", choice.Reason);
        Assert.Contains("CUDA_ERROR_OUT_OF_MEMORY", choice.Reason);

        var direct = Devices.ChooseAuto("auto", () => null, () => throw new GpuException(failure));
        Assert.Same(CpuBackend.Instance, direct.Backend);

        // No device at all: the reason says so, and the factory is never called.
        var none = Devices.ChooseAuto("auto", () => "ILGPU found no CUDA device.", () => throw new Xunit.Sdk.XunitException("must not be called"));
        Assert.Same(CpuBackend.Instance, none.Backend);
        Assert.Equal("no CUDA device; ILGPU found no CUDA device", none.Reason);
    }

    [Fact]
    public void Explicit_cuda_without_that_device_is_one_clear_error_and_exit_code_1()
    {
        // Without a GPU: plain "cuda". With one, ask for an index that is not there.
        string device = NoCudaReason is not null ? "cuda" : "cuda:99";
        var (code, output, error) = Run("throughput", "--model", "fmnist-mlp", "--batch", "2", "--steps", "1", "--device", device);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: No {device} device: ", error);
        Assert.Contains("Remedy: run on the CPU backend (--device cpu)", error);
        Assert.Single(Lines(error)); // one line: no stack trace
        Assert.DoesNotContain("images/s", output);
    }

    [Fact]
    public void Throughput_on_ilgpu_cpu_trains_on_that_backend_and_prints_images_per_second()
    {
        var (code, output, error) = Run("throughput", "--model", "fmnist-mlp", "--batch", "2", "--steps", "2", "--warmup", "0", "--warmup-seconds", "0", "--threads", "1", "--device", "ilgpu-cpu");
        Assert.True(code == 0, error);
        var lines = Lines(output);
        Assert.Contains(lines, l => l.StartsWith("backend:", StringComparison.Ordinal) && l.Contains("ilgpu-cpu", StringComparison.Ordinal));
        // The kernels really ran there: the (cached) ILGPU backend compiled some.
        var backend = Assert.IsType<IlgpuBackend>(Devices.Resolve("ilgpu-cpu"));
        Assert.True(backend.KernelsLoaded > 0, "no kernel was loaded on ilgpu-cpu: the model ran elsewhere");
        var loss = Assert.Single(lines, l => l.StartsWith("loss (last step): ", StringComparison.Ordinal));
        Assert.True(float.IsFinite(float.Parse(loss["loss (last step): ".Length..], CultureInfo.InvariantCulture)), loss);
        var last = lines[^1];
        Assert.StartsWith("images/s: ", last);
        Assert.True(double.Parse(last["images/s: ".Length..], CultureInfo.InvariantCulture) > 0, last);
    }

    [Fact]
    public void Devices_lists_the_cpu_engine_and_the_ilgpu_cpu_accelerator_and_says_what_auto_picks()
    {
        var (code, output, error) = Run("devices");
        Assert.True(code == 0, error);
        Assert.Contains(Lines(output), l => l.TrimStart().StartsWith("cpu ", StringComparison.Ordinal) && l.Contains(CpuBackend.SimdDescription, StringComparison.Ordinal));
        Assert.Contains(Lines(output), l => l.TrimStart().StartsWith("ilgpu-cpu ", StringComparison.Ordinal) && l.Contains("CPUAccelerator", StringComparison.Ordinal));
        foreach (var header in new[] { "Memory", "Warp", "Max group", "Multiprocessors" }) Assert.Contains(header, output);
        Assert.Contains(NoCudaReason is null ? "--device auto picks cuda:0" : "--device auto picks cpu", output);
        if (NoCudaReason is not null) Assert.Contains("CUDA: none;", output);
    }

    private static string[] Lines(string text) => text.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
}
