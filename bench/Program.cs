using BenchmarkDotNet.Running;

namespace NativeConv.Bench;

public static class Program
{
    /// <summary>
    /// BenchmarkDotNet's command line, plus `--device D` (cuda, cuda:N, opencl[:N], ilgpu-cpu) for the GPU rows of the
    /// CPU-vs-GPU and train-step benchmarks; it travels to the benchmark processes as an environment variable.
    /// `alternate-openblas [options]` instead runs our GEMM and OpenBLAS's alternately in one process (AlternateOpenBlas);
    /// `alternate-onnxruntime [options]` our inference and ONNX Runtime's (AlternateOnnxRuntime); `alternate-build --other DLL`
    /// this build's GEMM and another build's (AlternateBuild); `gemm-peak` the machine's
    /// multiply-add peak per vector width and our SGEMM as a fraction of it (GemmPeak); `serve-load` the prediction server
    /// under 1, 8 and 64 concurrent loopback clients (ServeLoad).
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == AlternateOpenBlas.Command) return AlternateOpenBlas.Run(args[1..]);
        if (args.Length > 0 && args[0] == AlternateBuild.Command) return AlternateBuild.Run(args[1..]);
        if (args.Length > 0 && args[0] == AlternateOnnxRuntime.Command) return AlternateOnnxRuntime.Run(args[1..]);
        if (args.Length > 0 && args[0] == GemmPeak.Command) return GemmPeak.Run(args[1..]);
        if (args.Length > 0 && args[0] == ServeLoad.Command) return ServeLoad.Run(args[1..]);

        var rest = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--device" && i + 1 < args.Length) Environment.SetEnvironmentVariable(BenchDevices.EnvironmentVariable, args[++i]);
            else if (args[i].StartsWith("--device=", StringComparison.Ordinal)) Environment.SetEnvironmentVariable(BenchDevices.EnvironmentVariable, args[i]["--device=".Length..]);
            else rest.Add(args[i]);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. rest]);
        return 0;
    }
}
