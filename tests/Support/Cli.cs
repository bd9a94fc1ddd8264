using NativeConv.Experiments;
using NativeConv.Tests.Data;

namespace NativeConv.Tests.Support;

/// <summary>The experiments program run in-process through its real command line.</summary>
internal static class Cli
{
    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>
    /// The same with <paramref name="variables"/> as the whole environment the program's edge parses (the process's own
    /// variables are not consulted for them), so a test never sets a process-wide variable other tests would see.
    /// </summary>
    public static (int ExitCode, string Output, string Error) RunWithEnvironment(IReadOnlyDictionary<string, string?> variables, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error, name => variables.TryGetValue(name, out var value) ? value : null);
        return (code, output.ToString(), error.ToString());
    }
}

/// <summary>A temporary runs root for study tests (deleted afterwards) and the argument list of a study on the real data.</summary>
public abstract class StudyRunsRoot : IDisposable
{
    protected readonly string Root;

    protected StudyRunsRoot(string prefix) => Root = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected string[] Study(string verb, params string[] extra) =>
        [verb, "--data-dir", RealData.Locator.Root, "--out", Root, "--threads", "2", "--no-download", .. extra];
}
