using System.CommandLine;
using NativeConv.Experiments.Commands;

namespace NativeConv.Experiments;

/// <summary>
/// The experiments command tree. Each verb lives in one file in Commands/ with a static Create(); adding a verb is that
/// file plus one line in <see cref="BuildRootCommand"/>.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// The command tree. <paramref name="engine"/>: the engine settings read from the environment (one parse, in
    /// <see cref="Run(string[], TextWriter, TextWriter, Func{string, string?})"/>), which the commands that run the engine
    /// combine with their --threads and --device into the options they configure it with.
    /// </summary>
    public static RootCommand BuildRootCommand(EngineEnvironment engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var root = new RootCommand("NativeConv experiments: Fashion-MNIST and CIFAR-10 studies on a from-scratch engine.");
        root.Add(ModelsCommand.Create());
        root.Add(DevicesCommand.Create(engine));
        root.Add(ThroughputCommand.Create(engine));
        root.Add(EdaCommand.Create());
        root.Add(FmnistCommand.Create(engine));
        root.Add(KernelStudyCommand.Create(engine));
        root.Add(CifarCommand.Create(engine));
        root.Add(FilterStudyCommand.Create(engine));
        root.Add(ShiftStudyCommand.Create(engine));
        root.Add(PermutationStudyCommand.Create(engine));
        root.Add(SampleEfficiencyStudyCommand.Create(engine));
        root.Add(AllCommand.Create(engine));
        root.Add(MergeCommand.Create(engine));
        root.Add(SummaryCommand.Create());
        root.Add(ExportCommand.Create());
        root.Add(PredictCommand.Create());
        root.Add(ServeCommand.Create(engine));
        return root;
    }

    /// <summary>Runs a command line with the process's environment variables (see the overload).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, Environment.GetEnvironmentVariable);

    /// <summary>
    /// Parses and runs a command line with the given writers (Main passes the console; tests pass StringWriters) and the
    /// given environment (tests pass their own variables). The engine's environment variables are parsed here, once, before
    /// any command: a value that is not valid prints one line, "error: " and what the variable takes, and exits with 2 (a
    /// usage error, like a bad option). Errors the engine reports on purpose — bad shapes, missing files, bad settings —
    /// print their message, which names the problem and the fix, and exit with 1; anything else is a bug and prints in full.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, Func<string, string?> environment)
    {
        EngineEnvironment engine;
        try
        {
            engine = EngineEnvironment.Read(environment) with { Cluster = ClusterEnvironment.Read(environment) };
        }
        catch (EngineEnvironmentException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }

        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return BuildRootCommand(engine).Parse(args).Invoke(configuration);
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("Cancelled.");
            return 130;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or InvalidDataException
                                       or NotSupportedException or UnauthorizedAccessException or NativeConv.Gpu.GpuException)
        {
            error.WriteLine($"error: {ex.Message}");
            return 1;
        }
        catch (Exception ex)
        {
            error.WriteLine($"internal error (please report): {ex}");
            return 70;
        }
    }
}
