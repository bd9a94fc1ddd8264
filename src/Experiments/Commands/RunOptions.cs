using System.CommandLine;
using System.Globalization;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// The settings that change a run's results (seed, threads, batch, device) plus the command's own settings, in one object:
/// printed at the start of every run and saved beside its results, so any number can be traced back to how it was made.
/// </summary>
public sealed class RunOptions
{
    private readonly List<(string Key, string Value)> _extras = new();

    public RunOptions(string command, int seed, int threads, int batch, string device)
    {
        Command = command;
        Seed = seed;
        Threads = threads;
        Batch = batch;
        Device = device;
    }

    public string Command { get; }
    public int Seed { get; }
    public int Threads { get; }
    public int Batch { get; }

    /// <summary>The device name as given ("cpu", ...); <see cref="Backend"/> is what it resolved to.</summary>
    public string Device { get; }

    /// <summary>The backend the run uses; set by <see cref="Apply"/>.</summary>
    public IBackend? Backend { get; private set; }

    /// <summary>Command-specific settings (model, steps, epochs...) in the order they were added.</summary>
    public IReadOnlyList<(string Key, string Value)> Extras => _extras;

    public RunOptions With(string key, object value)
    {
        _extras.Add((key, Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
        return this;
    }

    /// <summary>Applies the settings to the engine: thread count and default backend. Throws for an unknown device.</summary>
    public RunOptions Apply()
    {
        Engine.Threads = Threads;
        Backend = Devices.Resolve(Device);
        Engine.DefaultBackend = Backend;
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
            ("device", Device),
            ("backend", Backend?.Name ?? "(not applied)"),
            ("simd", CpuBackend.SimdDescription),
            ("processors", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)),
            ("runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription),
        };
        pairs.AddRange(_extras);
        return pairs;
    }

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
    public CommonOptions(Command command, int defaultBatch = 128, int defaultSeed = 42)
    {
        Seed = new Option<int>("--seed") { Description = "Seed for weights, data order, dropout and synthetic data", DefaultValueFactory = _ => defaultSeed };
        Threads = new Option<int>("--threads") { Description = "CPU threads for the kernels (default: all processors)", DefaultValueFactory = _ => Environment.ProcessorCount };
        Batch = new Option<int>("--batch") { Description = "Images per training step", DefaultValueFactory = _ => defaultBatch };
        Device = new Option<string>("--device") { Description = "Where to run", DefaultValueFactory = _ => "cpu" };
        Device.AcceptOnlyFromAmong([.. Devices.Names]);
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

    public Option<int> Seed { get; }
    public Option<int> Threads { get; }
    public Option<int> Batch { get; }
    public Option<string> Device { get; }

    public RunOptions Read(ParseResult result) => new(
        _commandName,
        result.GetValue(Seed),
        result.GetValue(Threads),
        result.GetValue(Batch),
        result.GetValue(Device) ?? "cpu");
}

/// <summary>The devices a run can name with --device. A GPU backend registers here when it lands.</summary>
public static class Devices
{
    public static IReadOnlyList<string> Names { get; } = ["cpu"];

    public static IBackend Resolve(string name) => name.ToLowerInvariant() switch
    {
        "cpu" => CpuBackend.Instance,
        _ => throw new ArgumentException($"Unknown device '{name}'. Valid devices: {string.Join(", ", Names)}."),
    };
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
