using BenchmarkDotNet.Running;

namespace NativeConv.Bench;

public static class Program
{
    /// <summary>
    /// BenchmarkDotNet's command line, plus `--device D` (cuda, cuda:N, opencl[:N], ilgpu-cpu) for the GPU rows of the
    /// CPU-vs-GPU and train-step benchmarks; it travels to the benchmark processes as an environment variable.
    /// </summary>
    public static void Main(string[] args)
    {
        var rest = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--device" && i + 1 < args.Length) Environment.SetEnvironmentVariable(BenchDevices.EnvironmentVariable, args[++i]);
            else if (args[i].StartsWith("--device=", StringComparison.Ordinal)) Environment.SetEnvironmentVariable(BenchDevices.EnvironmentVariable, args[i]["--device=".Length..]);
            else rest.Add(args[i]);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. rest]);
    }
}
