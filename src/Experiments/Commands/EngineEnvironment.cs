using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// The engine settings this program takes from environment variables, parsed once, at the command-line edge
/// (<see cref="Program.Run(string[], TextWriter, TextWriter, Func{string, string?})"/>, before any command runs):
///   NATIVECONV_CONV_ALGO  auto (default) | im2col | winograd   the CPU convolution algorithm
///   NATIVECONV_FUSE       1 (default) | 0 (also true/false, on/off)   Conv2D + ReLU as one fused op
/// A value that is none of these is a one-line error naming the variable and its valid values (exit code 2). The commands
/// turn these, with their own --threads and --device, into the <see cref="EngineOptions"/> they give the engine.
/// (DOTNET_TieredCompilation and the other DOTNET_ variables are the runtime's; NATIVECONV_DATA is the data locator's.)
/// </summary>
public sealed record EngineEnvironment(Conv2DAlgorithm ConvAlgorithm, bool FuseConvRelu)
{
    /// <summary>
    /// The batch system's job variables (Slurm array, Kubernetes Indexed Job), which <see cref="Program.Run(string[], TextWriter, TextWriter, Func{string, string?})"/>
    /// parses beside the engine's: they ride along here so every study verb, which already receives this record, gets them
    /// without another parameter.
    /// </summary>
    public ClusterEnvironment Cluster { get; init; } = ClusterEnvironment.None;

    public const string ConvAlgorithmVariable = "NATIVECONV_CONV_ALGO";
    public const string FuseVariable = "NATIVECONV_FUSE";

    /// <summary>Neither variable set: conv Auto, fusion on (the engine's own defaults).</summary>
    public static EngineEnvironment Defaults { get; } = new(EngineOptions.Defaults.ConvAlgorithm, EngineOptions.Defaults.FuseConvRelu);

    /// <summary>
    /// Reads the variables through <paramref name="lookup"/> (the process's: <see cref="Environment.GetEnvironmentVariable(string)"/>).
    /// Unset or blank: the default. Throws <see cref="EngineEnvironmentException"/> (one line) for a value that is not valid.
    /// </summary>
    public static EngineEnvironment Read(Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        return new EngineEnvironment(ParseConvAlgorithm(lookup(ConvAlgorithmVariable)), ParseFuse(lookup(FuseVariable)));
    }

    /// <summary>The engine options of a run: these settings, with the command's thread count and backend.</summary>
    public EngineOptions ToEngineOptions(int threads, IBackend backend) => new EngineOptions
    {
        Threads = threads,
        ConvAlgorithm = ConvAlgorithm,
        FuseConvRelu = FuseConvRelu,
        Backend = backend,
    }.Validate();

    internal static Conv2DAlgorithm ParseConvAlgorithm(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return Defaults.ConvAlgorithm;
        return value.Trim().ToLowerInvariant() switch
        {
            "auto" => Conv2DAlgorithm.Auto,
            "im2col" => Conv2DAlgorithm.Im2Col,
            "winograd" => Conv2DAlgorithm.Winograd,
            _ => throw new EngineEnvironmentException(
                $"{ConvAlgorithmVariable}='{Printable(value)}' is not an algorithm; use auto, im2col or winograd (or leave it unset)."),
        };
    }

    internal static bool ParseFuse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return Defaults.FuseConvRelu;
        return value.Trim().ToLowerInvariant() switch
        {
            "1" or "true" or "on" => true,
            "0" or "false" or "off" => false,
            _ => throw new EngineEnvironmentException(
                $"{FuseVariable}='{Printable(value)}' is not a switch; use 1 (fuse Conv2D + ReLU, the default) or 0 (run them separately), or leave it unset."),
        };
    }

    /// <summary>The value as given, with control characters (a stray newline) escaped, so the message stays one line.</summary>
    private static string Printable(string value)
    {
        var text = new System.Text.StringBuilder(value.Length);
        foreach (char c in value)
            text.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return text.ToString();
    }
}

/// <summary>An engine environment variable with a value it does not take; the message is one line, for the user.</summary>
public sealed class EngineEnvironmentException(string message) : Exception(message);
