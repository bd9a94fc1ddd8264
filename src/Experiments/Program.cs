using System.CommandLine;
using NativeConv.Experiments.Commands;

namespace NativeConv.Experiments;

/// <summary>
/// The experiments command tree. Each verb lives in one file in Commands/ with a static Create(); adding a verb is that
/// file plus one line in <see cref="BuildRootCommand"/>.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => BuildRootCommand().Parse(args).Invoke();

    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("NativeConv experiments: Fashion-MNIST and CIFAR-10 studies on a from-scratch engine.");
        root.Add(ModelsCommand.Create());
        root.Add(ThroughputCommand.Create());
        root.Add(EdaCommand.Create());
        root.Add(FmnistCommand.Create());
        root.Add(KernelStudyCommand.Create());
        root.Add(CifarCommand.Create());
        root.Add(FilterStudyCommand.Create());
        root.Add(AllCommand.Create());
        return root;
    }

    /// <summary>Runs the command line in-process with the given writers (tests).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
}
