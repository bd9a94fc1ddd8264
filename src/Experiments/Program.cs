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

    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("NativeConv experiments: Fashion-MNIST and CIFAR-10 studies on a from-scratch engine.");
        root.Add(ModelsCommand.Create());
        root.Add(DevicesCommand.Create());
        root.Add(ThroughputCommand.Create());
        root.Add(EdaCommand.Create());
        root.Add(FmnistCommand.Create());
        root.Add(KernelStudyCommand.Create());
        root.Add(CifarCommand.Create());
        root.Add(FilterStudyCommand.Create());
        root.Add(AllCommand.Create());
        return root;
    }

    /// <summary>
    /// Parses and runs a command line with the given writers (Main passes the console; tests pass StringWriters).
    /// Errors the engine reports on purpose — bad shapes, missing files, bad settings — print their message, which names
    /// the problem and the fix, and exit with 1; anything else is a bug and prints in full.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return BuildRootCommand().Parse(args).Invoke(configuration);
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
