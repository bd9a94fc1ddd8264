using System.Reflection;
using System.Runtime.Loader;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Bench;

/// <summary>
/// `alternate-build`: this build's SGEMM against another build's (an earlier commit's), call by call in one process, to
/// tell whether a change made the GEMM faster or slower on this machine. Whole programs run one after the other cannot
/// tell a few per cent apart on a shared host whose speed drifts 10–30 % over minutes; alternating every 0.4 s in one
/// process can. The other build's NativeConv.Tensors.dll is loaded into its own AssemblyLoadContext beside this one.
///
///   git worktree add /tmp/base COMMIT &amp;&amp; dotnet build -c Release /tmp/base/src/Tensors
///   dotnet run -c Release --project bench -- alternate-build --other /tmp/base/src/Tensors/bin/Release/net10.0/NativeConv.Tensors.dll
///       [--shape NAME|MxKxN]... [--threads T] [--rounds R]
///
/// Shapes: the study shapes by name (default: all of them) or MxKxN (not transposed, e.g. 1024x1024x1024). Each round runs
/// both builds for 0.4 s each (<see cref="Alternation"/>, no pause: both are our own thread pool) and keeps each side's median call; both results are checked
/// against each other first (they may differ in the last bits where the two builds block K differently).
/// </summary>
public static class AlternateBuild
{
    public const string Command = "alternate-build";

    private delegate void GemmRun(bool transposeA, bool transposeB, int m, int n, int k, float alpha, ReadOnlySpan<float> a,
        int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc);

    public static int Run(string[] args)
    {
        string? other = null;
        var shapeNames = new List<string>();
        int threads = 2, rounds = 10;
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--other" when value != null: other = value; i++; break;
                case "--shape" when value != null: shapeNames.Add(value); i++; break;
                case "--threads" when value != null && int.TryParse(value, out threads) && threads >= 1: i++; break;
                case "--rounds" when value != null && int.TryParse(value, out rounds) && rounds >= 1: i++; break;
                default:
                    Console.Error.WriteLine($"{Command}: unknown or incomplete option '{args[i]}'. " +
                                            "Options: --other PATH/NativeConv.Tensors.dll, --shape NAME|MxKxN (repeatable), --threads T (≥ 1), --rounds R (≥ 1).");
                    return 2;
            }
        }
        if (other is null || !File.Exists(other))
        {
            Console.Error.WriteLine($"{Command}: give --other, the path of another build's NativeConv.Tensors.dll " +
                                    $"({(other is null ? "missing" : $"'{other}' does not exist")}).");
            return 2;
        }
        var shapes = new List<GemmShape>();
        foreach (string name in shapeNames.Count > 0 ? shapeNames : GemmShape.StudyShapes.Select(s => s.Name))
        {
            if (ParseShape(name) is { } shape) shapes.Add(shape);
            else
            {
                Console.Error.WriteLine($"{Command}: no shape '{name}'. Give MxKxN or one of: {string.Join(", ", GemmShape.StudyShapes.Select(s => s.Name))}.");
                return 2;
            }
        }
        if (LoadOther(other, threads, out string? problem) is not { } otherRun)
        {
            Console.Error.WriteLine($"{Command}: {problem}");
            return 1;
        }

        ParallelFor.ThreadCount = threads;
        Console.WriteLine($"this build vs {other}; {threads} thread(s), {rounds} rounds of 0.4 s per side; " +
                          $"ours: {NativeConv.Tensors.Backends.Cpu.CpuBackend.SimdDescription}, {Sgemm.Blocking}");
        Console.WriteLine($"{"shape",-32} {"this GFLOP/s",13} {"other GFLOP/s",14} {"this/other: median",19} {"lowest",7} {"highest",8}");
        foreach (var shape in shapes)
        {
            var a = GemmShape.Fill(shape.M * shape.K, 1);
            var b = GemmShape.Fill(shape.K * shape.N, 2);
            var mine = GemmShape.Aligned(shape.M * shape.N);
            var theirs = GemmShape.Aligned(shape.M * shape.N);
            void RunThis() => Sgemm.Run(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, a, shape.Lda, b, shape.Ldb, 0f, mine, shape.N);
            void RunOther() => otherRun(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, a, shape.Lda, b, shape.Ldb, 0f, theirs, shape.N);

            RunThis();
            RunOther();
            double worst = GemmShape.MaxAbsDifference(mine, theirs);
            if (!(worst <= shape.AgreementBound))
            {
                Console.Error.WriteLine($"{Command}: {shape.Name}: the two builds' results differ by up to {worst}; not timing them.");
                return 1;
            }
            Alternation.WarmUp(RunThis, RunOther, seconds: 0.5);
            var (thisSeconds, otherSeconds) = Alternation.Rounds(RunThis, RunOther, rounds, pauseMs: 0);
            var ratios = new double[rounds];
            var thisSpeeds = new double[rounds];
            var otherSpeeds = new double[rounds];
            for (int r = 0; r < rounds; r++)
            {
                ratios[r] = otherSeconds[r] / thisSeconds[r];
                thisSpeeds[r] = shape.Flops / thisSeconds[r] * 1e-9;
                otherSpeeds[r] = shape.Flops / otherSeconds[r] * 1e-9;
            }
            Array.Sort(ratios);
            Array.Sort(thisSpeeds);
            Array.Sort(otherSpeeds);
            Console.WriteLine($"{shape.Name,-32} {thisSpeeds[rounds / 2],13:F1} {otherSpeeds[rounds / 2],14:F1} {ratios[rounds / 2],19:F3} {ratios[0],7:F3} {ratios[^1],8:F3}");
        }
        return 0;
    }

    private static GemmShape? ParseShape(string name)
    {
        if (Array.Find(GemmShape.StudyShapes, s => s.Name == name) is { } known) return known;
        var parts = name.Split('x');
        return parts.Length == 3 && int.TryParse(parts[0], out int m) && int.TryParse(parts[1], out int k) &&
               int.TryParse(parts[2], out int n) && m > 0 && k > 0 && n > 0
            ? new GemmShape(name, false, false, m, n, k)
            : null;
    }

    // The other build's public SGEMM entry (Sgemm.Run; Gemm.Run before 2026-12-07) and its thread count, set to ours.
    private static GemmRun? LoadOther(string path, int threads, out string? problem)
    {
        problem = null;
        try
        {
            var assembly = new AssemblyLoadContext("other build").LoadFromAssemblyPath(Path.GetFullPath(path));
            const string Namespace = "NativeConv.Tensors.Backends.Cpu.Kernels.Gemm";
            var type = assembly.GetType($"{Namespace}.Sgemm") ?? assembly.GetType($"{Namespace}.Gemm");
            var run = type?.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .SingleOrDefault(m => m.Name == "Run" && m.GetParameters().Length == 13);
            var threadCount = assembly.GetType("NativeConv.Tensors.ParallelFor")?.GetProperty("ThreadCount");
            if (run is null || threadCount is null)
            {
                problem = $"'{path}' has no public {Namespace}.Sgemm.Run (or Gemm.Run) with the usual 13 parameters, or no ParallelFor.ThreadCount.";
                return null;
            }
            threadCount.SetValue(null, threads);
            return (GemmRun)Delegate.CreateDelegate(typeof(GemmRun), run);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or ArgumentException or TargetInvocationException)
        {
            problem = $"could not load '{path}': {e.Message}";
            return null;
        }
    }
}
