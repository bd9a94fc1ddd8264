using System.CommandLine;
using System.Globalization;
using NativeConv.Gpu;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// The settings that change a run's results (seed, threads, batch, device, the engine settings from the environment) plus
/// the command's own settings, in one object: printed at the start of every run and saved beside its results, so any
/// number can be traced back to how it was made.
/// </summary>
public sealed class RunOptions
{
    private readonly List<(string Key, string Value)> _extras = new();

    public RunOptions(string command, int seed, int threads, int batch, string device, EngineEnvironment engine)
    {
        Command = command;
        Seed = seed;
        Threads = threads;
        Batch = batch;
        Device = device;
        EngineEnvironment = engine ?? throw new ArgumentNullException(nameof(engine));
    }

    public string Command { get; }
    public int Seed { get; }
    public int Threads { get; }
    public int Batch { get; }

    /// <summary>The device name as given ("cpu", ...); <see cref="Backend"/> is what it resolved to.</summary>
    public string Device { get; }

    /// <summary>The engine settings read from the environment (conv algorithm, fusion) at the command-line edge.</summary>
    public EngineEnvironment EngineEnvironment { get; }

    /// <summary>The backend the run uses; set by <see cref="Apply"/>.</summary>
    public IBackend? Backend { get; private set; }

    /// <summary>What <see cref="Apply"/> gave the engine: threads, conv algorithm, fusion, backend.</summary>
    public EngineOptions? EngineOptions { get; private set; }

    /// <summary>How <see cref="Device"/> was resolved (for "auto": what it picked and why); set by <see cref="Apply"/>.</summary>
    public DeviceChoice? DeviceChoice { get; private set; }

    /// <summary>Command-specific settings (model, steps, epochs...) in the order they were added.</summary>
    public IReadOnlyList<(string Key, string Value)> Extras => _extras;

    public RunOptions With(string key, object value)
    {
        _extras.Add((key, Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
        return this;
    }

    /// <summary>
    /// Gives the engine its options, all at once: thread count, conv algorithm and fusion (from the environment), and the
    /// default backend (tensors and models created afterwards live on it). Throws for an unknown device, and for a GPU that
    /// is not there (a message naming the device and the remedy); then nothing is applied.
    /// </summary>
    public RunOptions Apply()
    {
        var choice = Devices.Choose(Device);
        var options = EngineEnvironment.ToEngineOptions(Threads, choice.Backend);
        Engine.Configure(options);
        DeviceChoice = choice;
        Backend = choice.Backend;
        EngineOptions = options;
        return this;
    }

    /// <summary>Every setting as key/value pairs (the common ones first), for printing and results files.</summary>
    public IReadOnlyList<(string Key, string Value)> ToPairs()
    {
        var pairs = new List<(string, string)>
        {
            ("command", Command),
            ("seed", Seed.ToString(CultureInfo.InvariantCulture)),
            ("threads", Threads.ToString(CultureInfo.InvariantCulture)),
            ("batch", Batch.ToString(CultureInfo.InvariantCulture)),
            // "auto" shows what it picked and why: "auto → cpu: no CUDA device (...)".
            ("device", DeviceChoice?.Reason is { } reason ? $"{Device} → {Devices.ShortName(DeviceChoice.Backend)}: {reason}" : Device),
            ("backend", Backend?.Name ?? "(not applied)"),
            // The widest vector path the CPU kernels take ("AVX2", "Vector128 (NEON)", ...) and the caches their blocking is sized from.
            ("simd", SimdPath.Current),
            ("cpu_caches", CpuCaches.Current.Describe()),
            // The GEMM's micro-kernel and the K/N blocks it derived from those caches.
            ("gemm_blocking", NativeConv.Tensors.Backends.Cpu.Kernels.Gemm.Sgemm.Blocking),
            // Settings that change the CPU engine's rounding or speed (README "Engine settings"): part of what reproduces a run.
            ("cpu_kernels", CpuKernels().DescribeCpuKernels()),
            ("processors", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)),
            ("runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription),
        };
        pairs.AddRange(_extras);
        return pairs;
    }

    /// <summary>The options applied, or before <see cref="Apply"/> the ones it would apply (for their conv and fusion settings).</summary>
    private EngineOptions CpuKernels() =>
        EngineOptions ?? new EngineOptions { ConvAlgorithm = EngineEnvironment.ConvAlgorithm, FuseConvRelu = EngineEnvironment.FuseConvRelu };

    /// <summary>Writes one "key: value" line per setting, aligned.</summary>
    public void Print(TextWriter output)
    {
        var pairs = ToPairs();
        int width = 0;
        foreach (var (key, _) in pairs) width = Math.Max(width, key.Length);
        foreach (var (key, value) in pairs) output.WriteLine($"{(key + ":").PadRight(width + 1)} {value}");
        output.WriteLine();
    }
}

/// <summary>
/// The options every training-like command shares (--seed, --threads, --batch, --device). Create one per command: it adds
/// the options to the command and reads them back into a <see cref="RunOptions"/>.
/// </summary>
public sealed class CommonOptions
{
    public CommonOptions(Command command, EngineEnvironment engine, int defaultBatch = 128, int defaultSeed = 42)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        Seed = new Option<int>("--seed") { Description = "Seed for weights, data order, dropout and synthetic data", DefaultValueFactory = _ => defaultSeed };
        Threads = new Option<int>("--threads") { Description = "CPU threads for the kernels (default: all processors)", DefaultValueFactory = _ => Environment.ProcessorCount };
        Batch = new Option<int>("--batch") { Description = "Images per training step", DefaultValueFactory = _ => defaultBatch };
        Device = new Option<string>("--device")
        {
            Description = "Where to run: cpu (SIMD engine), cuda[:N] or opencl[:N] (ILGPU GPU), ilgpu-cpu (GPU kernels emulated, for debugging), auto (CUDA if found, else cpu)",
            DefaultValueFactory = _ => "cpu",
        };
        Devices.AddValidation(Device);
        Threads.Validators.Add(r =>
        {
            int t = r.GetValueOrDefault<int>();
            if (t < 1 || t > 256) r.AddError($"--threads must be between 1 and 256; got {t}.");
        });
        Batch.Validators.Add(r =>
        {
            int b = r.GetValueOrDefault<int>();
            if (b < 1) r.AddError($"--batch must be at least 1; got {b}.");
        });
        command.Add(Seed);
        command.Add(Threads);
        command.Add(Batch);
        command.Add(Device);
        _commandName = command.Name;
    }

    private readonly string _commandName;
    private readonly EngineEnvironment _engine;

    public Option<int> Seed { get; }
    public Option<int> Threads { get; }
    public Option<int> Batch { get; }
    public Option<string> Device { get; }

    public RunOptions Read(ParseResult result) => new(
        _commandName,
        result.GetValue(Seed),
        result.GetValue(Threads),
        result.GetValue(Batch),
        result.GetValue(Device) ?? "cpu",
        _engine);
}

/// <summary>What a --device name resolved to: the backend, its id, and (for "auto") why it was picked.</summary>
public sealed record DeviceChoice(string Requested, IBackend Backend, string? Reason)
{
    /// <summary>One line for the run's header, e.g. "device auto → cpu: no CUDA device (...)"; null unless auto.</summary>
    public string? Explanation => Reason is null ? null : $"device {Requested} → {Devices.ShortName(Backend)}: {Reason}";
}

/// <summary>
/// The devices a run can name with --device:
///   cpu              the SIMD CPU engine
///   cuda, cuda:N     an ILGPU CUDA accelerator (needs only the NVIDIA driver)
///   opencl, opencl:N an ILGPU OpenCL accelerator
///   ilgpu-cpu        ILGPU's CPU accelerator: the GPU kernels emulated on host threads (debugging; slow)
///   auto             CUDA if ILGPU finds a CUDA device, else the CPU engine (the choice and its reason are printed)
/// ILGPU backends are created once per process and cached: creating one builds a context and compiles kernels on first use.
/// </summary>
public static class Devices
{
    /// <summary>The accepted names (cuda and opencl also take ":N", a device index).</summary>
    public static IReadOnlyList<string> Names { get; } = ["auto", "cpu", "cuda", "opencl", "ilgpu-cpu"];

    private static readonly Dictionary<string, IlgpuBackend> s_gpuBackends = new(StringComparer.Ordinal);
    private static readonly object s_gate = new();

    /// <summary>The backend a device name stands for; throws <see cref="ArgumentException"/> for an unknown name and
    /// <see cref="InvalidOperationException"/> (naming the device, the problem and the remedy) when it is not present.</summary>
    public static IBackend Resolve(string name) => Choose(name).Backend;

    /// <summary>Like <see cref="Resolve"/>, and says why "auto" picked what it picked.</summary>
    public static DeviceChoice Choose(string name)
    {
        string id = Normalize(name) ?? throw new ArgumentException(UnknownMessage(name));
        switch (id)
        {
            case "cpu":
                return new DeviceChoice(name, CpuBackend.Instance, null);
            case "auto":
                return ChooseAuto(name, GpuDevices.CudaUnavailableReason, () => Gpu("cuda:0", "cuda"));
            default:
                return new DeviceChoice(name, Gpu(id, name.Trim().ToLowerInvariant()), null);
        }
    }

    /// <summary>
    /// "auto": CUDA when ILGPU finds a device and it can be set up, else the CPU engine — also when a CUDA device is present
    /// but unusable (driver mismatch, device held by another process, out of memory at start-up), with the reason.
    /// </summary>
    internal static DeviceChoice ChooseAuto(string name, Func<string?> cudaUnavailableReason, Func<IlgpuBackend> createCuda)
    {
        string? missing = cudaUnavailableReason();
        if (missing is not null)
            return new DeviceChoice(name, CpuBackend.Instance, $"no CUDA device; {missing.TrimEnd('.')}");
        IlgpuBackend cuda;
        try { cuda = createCuda(); }
        catch (Exception e) when (e is GpuException or InvalidOperationException)
        {
            return new DeviceChoice(name, CpuBackend.Instance, $"a CUDA device was found but could not be used, so the CPU engine runs instead ({e.Message.TrimEnd('.')})");
        }
        return new DeviceChoice(name, cuda, $"CUDA device found ({cuda.Device.Name})");
    }

    /// <summary>
    /// Makes a --device option accept exactly the device names (cuda:N and opencl:N included, which AcceptOnlyFromAmong
    /// cannot express) and complete the base names.
    /// </summary>
    public static void AddValidation(Option<string> option)
    {
        option.CompletionSources.Add([.. Names]);
        option.Validators.Add(r =>
        {
            if (ValidationError(r.GetValueOrDefault<string>()) is { } message) r.AddError(message);
        });
    }

    /// <summary>Null when <paramref name="name"/> is a valid device name, else the message saying what is accepted.</summary>
    public static string? ValidationError(string? name) => name is not null && Normalize(name) is not null ? null : UnknownMessage(name);

    /// <summary>"cpu", "cuda:0", "ilgpu-cpu": the id of a backend, without the accelerator's long name.</summary>
    public static string ShortName(IBackend backend) => backend is IlgpuBackend gpu ? gpu.Device.Id : backend.Kind == DeviceKind.Cpu ? "cpu" : backend.Name;

    /// <summary>The canonical id ("cpu", "auto", "cuda:0", "opencl:1", "ilgpu-cpu"), or null for a name that is not a device.</summary>
    internal static string? Normalize(string name)
    {
        string n = name.Trim().ToLowerInvariant();
        if (n is "cpu" or "auto" or "ilgpu-cpu") return n;
        int colon = n.IndexOf(':');
        string kind = colon < 0 ? n : n[..colon];
        if (kind is not ("cuda" or "opencl")) return null;
        if (colon < 0) return kind + ":0";
        string index = n[(colon + 1)..];
        if (index.Length == 0 || index.Length > 3) return null;
        foreach (char c in index) if (c is < '0' or > '9') return null;
        return $"{kind}:{int.Parse(index, CultureInfo.InvariantCulture)}";
    }

    private static string UnknownMessage(string? name) =>
        $"Unknown device '{name}'. Valid devices: auto, cpu, cuda, cuda:N, opencl, opencl:N, ilgpu-cpu (see the 'devices' command).";

    /// <summary>The cached backend of canonical <paramref name="id"/>, created from <paramref name="requested"/> (so a
    /// failure names the device as the user wrote it).</summary>
    private static IlgpuBackend Gpu(string id, string requested)
    {
        lock (s_gate)
        {
            if (s_gpuBackends.TryGetValue(id, out var cached)) return cached;
            IlgpuBackend backend;
            try { backend = GpuDevices.CreateBackend(requested); }
            // A missing device is a setting the user can fix: report it as such (Program prints "error: ..." and exits 1).
            catch (GpuException e) { throw new InvalidOperationException(e.Message, e); }
            s_gpuBackends[id] = backend;
            return backend;
        }
    }
}

/// <summary>Small helpers shared by the command files.</summary>
internal static class CommandIo
{
    public static TextWriter Out(ParseResult result) => result.InvocationConfiguration.Output;
    public static TextWriter Error(ParseResult result) => result.InvocationConfiguration.Error;

    /// <summary>A Spectre console writing to the command's output (plain text, so tests and pipes read it).</summary>
    public static Spectre.Console.IAnsiConsole Console(ParseResult result)
    {
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(Out(result)),
            Ansi = Spectre.Console.AnsiSupport.No,
            ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
            Interactive = Spectre.Console.InteractionSupport.No,
        });
        console.Profile.Width = 120;
        return console;
    }
}
