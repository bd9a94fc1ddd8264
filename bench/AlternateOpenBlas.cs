using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Bench;

/// <summary>
/// `alternate-openblas`: our SGEMM and OpenBLAS's on the same operands in one process, alternating every fraction of a
/// second. On a shared machine the speed of both drifts by 10–30 % over minutes; alternating quickly puts every pair of
/// numbers in the same conditions, so the ratio per round is fair even when the absolute numbers are not.
///
///   dotnet run -c Release --project bench -- alternate-openblas [--shape NAME] [--threads T] [--rounds R]
///
/// After a 1 s warm-up of both, each round: ours for 0.4 s, a 0.2 s pause (both libraries' idle threads spin for a while
/// after a call), OpenBLAS for 0.4 s, a pause; every other round OpenBLAS goes first. Each side reports its median call.
/// Needs libopenblas (Debian: `apt-get install libopenblas-dev`). OpenBLAS runs at its best: the environment's
/// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides are removed before it loads, then it is asked which kernel it picked
/// (openblas_get_corename); OpenBLAS 0.3.21 does not know every CPU (on Emerald Rapids it falls back to its SSE3 "Prescott"
/// kernels, 5× slower), so where the kernel does not use the CPU's widest vectors the command runs itself again with the
/// matching OPENBLAS_CORETYPE (Cooperlake/SkylakeX for AVX-512, Haswell for AVX2). The kernel is printed with the results.
/// </summary>
public static class AlternateOpenBlas
{
    public const string Command = "alternate-openblas";

    public static int Run(string[] args)
    {
        string shapeName = "conv-fwd-batch-64x576x32768";
        int threads = 2, rounds = 20;
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--shape" when value != null: shapeName = value; i++; break;
                case "--threads" when value != null && int.TryParse(value, out threads) && threads >= 1: i++; break;
                case "--rounds" when value != null && int.TryParse(value, out rounds) && rounds >= 1: i++; break;
                default:
                    Console.Error.WriteLine($"{Command}: unknown or incomplete option '{args[i]}'. " +
                                            "Options: --shape NAME, --threads T (≥ 1), --rounds R (≥ 1).");
                    return 2;
            }
        }
        var shape = Array.Find(GemmShape.StudyShapes, s => s.Name == shapeName);
        if (shape is null)
        {
            Console.Error.WriteLine($"{Command}: no shape '{shapeName}'. Shapes: {string.Join(", ", GemmShape.StudyShapes.Select(s => s.Name))}.");
            return 2;
        }
        if (!OpenBlas.TryLoad(threads, out string? problem))
        {
            Console.Error.WriteLine($"{Command}: {problem}");
            return 1;
        }
        if (OpenBlas.BetterCoreType() is { } coreType)
            return OpenBlas.RunAgainWith(coreType);

        ParallelFor.ThreadCount = threads;
        var a = GemmShape.Fill(shape.M * shape.K, 1);
        var b = GemmShape.Fill(shape.K * shape.N, 2);
        var ours = GemmShape.Aligned(shape.M * shape.N);
        var theirs = GemmShape.Aligned(shape.M * shape.N);
        void RunOurs() => Sgemm.Run(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, a, shape.Lda, b, shape.Ldb, 0f, ours, shape.N);
        void RunTheirs() => OpenBlas.Sgemm(shape, a, shape.Lda, b, shape.Ldb, theirs);

        // Both must compute the same product before their speeds mean anything.
        RunOurs();
        RunTheirs();
        double worst = GemmShape.MaxAbsDifference(ours, theirs);
        if (!(worst <= shape.AgreementBound))
        {
            Console.Error.WriteLine($"{Command}: the two results differ by up to {worst}; not timing them.");
            return 1;
        }

        Alternation.WarmUp(RunOurs, RunTheirs, seconds: 1);

        Console.WriteLine($"{shape.Name}: C ({shape.M}, {shape.N}) = A · B over K = {shape.K}, {threads} thread(s), " +
                          $"{rounds} rounds (results agree within {worst:G2})");
        Console.WriteLine($"OpenBLAS kernel: {OpenBlas.CoreName}; ours: {NativeConv.Tensors.Backends.Cpu.CpuBackend.SimdDescription}");
        Console.WriteLine("round  ours GFLOP/s  OpenBLAS GFLOP/s  ratio");
        var (oursSeconds, theirSeconds) = Alternation.Rounds(RunOurs, RunTheirs, rounds, pauseMs: 200);
        var ratios = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            ratios[r] = theirSeconds[r] / oursSeconds[r];
            Console.WriteLine($"{r + 1,5}  {shape.Flops / oursSeconds[r] * 1e-9,13:F1}  {shape.Flops / theirSeconds[r] * 1e-9,16:F1}  {ratios[r],5:F2}");
        }
        Array.Sort(ratios);
        Console.WriteLine($"ours / OpenBLAS: median {ratios[rounds / 2]:F2}, lowest {ratios[0]:F2}, highest {ratios[^1]:F2}");
        return 0;
    }

    private static unsafe class OpenBlas
    {
        private const int RowMajor = 101, NoTrans = 111, Trans = 112;
        private static delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> s_sgemm;

        private static delegate* unmanaged<sbyte*> s_coreName;

        // Set on the run this command starts itself with a chosen OPENBLAS_CORETYPE, so that one keeps it.
        private const string RerunMarker = "NATIVECONV_BENCH_OPENBLAS_CORETYPE_CHOSEN";

        [DllImport("libc", EntryPoint = "unsetenv")]
        private static extern int UnsetEnv(string name);

        /// <summary>The kernel family OpenBLAS runs ("Zen", "SkylakeX", "Prescott", ...).</summary>
        public static string CoreName => new(s_coreName());

        /// <summary>
        /// The OPENBLAS_CORETYPE to run with instead, when the kernel OpenBLAS picked does not use this CPU's widest vectors;
        /// null when it does (or when this run already is the one started with a chosen core type).
        /// </summary>
        public static string? BetterCoreType()
        {
            if (Environment.GetEnvironmentVariable(RerunMarker) is not null) return null;
            string core = CoreName;
            string[] avx512Cores = ["SkylakeX", "Cooperlake", "SapphireRapids"];
            if (Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported)
                return avx512Cores.Contains(core) ? null : HasBf16() ? "Cooperlake" : "SkylakeX";
            if (Avx2.IsSupported && Fma.IsSupported)
                return avx512Cores.Contains(core) || core is "Haswell" or "Zen" ? null : "Haswell";
            return null;
        }

        // .NET exposes no AVX512_BF16 check; Linux lists it among the CPU flags (Cooper Lake and later).
        private static bool HasBf16() =>
            File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags") && l.Contains(" avx512_bf16"));

        /// <summary>Runs this command again (same arguments) with OPENBLAS_CORETYPE set before OpenBLAS loads; its exit code.</summary>
        public static int RunAgainWith(string coreType)
        {
            Console.WriteLine($"OpenBLAS picked its {CoreName} kernels on this CPU; running again with OPENBLAS_CORETYPE={coreType}.");
            var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
            var args = Environment.GetCommandLineArgs();
            // Under `dotnet bench.dll ...` the first argument is the assembly, which the host needs again.
            bool viaHost = Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet";
            foreach (var arg in viaHost ? args : args[1..]) start.ArgumentList.Add(arg);
            start.Environment["OPENBLAS_CORETYPE"] = coreType;
            start.Environment[RerunMarker] = "1";
            using var child = Process.Start(start)!;
            child.WaitForExit();
            return child.ExitCode;
        }

        public static bool TryLoad(int threads, out string? problem)
        {
            // Read when the library loads: unset them first so OpenBLAS picks its kernels for this CPU (a run started by
            // RunAgainWith keeps the core type it was given).
            if (Environment.GetEnvironmentVariable(RerunMarker) is null) UnsetEnv("OPENBLAS_CORETYPE");
            UnsetEnv("OPENBLAS_L2_SIZE");
            if (!NativeLibrary.TryLoad("libopenblas.so.0", out var handle) && !NativeLibrary.TryLoad("libopenblas.so", out handle))
            {
                problem = "OpenBLAS is not installed (libopenblas.so.0 not found). On Debian/Ubuntu: apt-get install libopenblas-dev.";
                return false;
            }
            s_sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
                NativeLibrary.GetExport(handle, "cblas_sgemm");
            s_coreName = (delegate* unmanaged<sbyte*>)NativeLibrary.GetExport(handle, "openblas_get_corename");
            var setThreads = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(handle, "openblas_set_num_threads");
            setThreads(threads);
            problem = null;
            return true;
        }

        public static void Sgemm(GemmShape s, ArraySegment<float> a, int lda, ArraySegment<float> b, int ldb, ArraySegment<float> c)
        {
            fixed (float* pa = a.AsSpan(), pb = b.AsSpan(), pc = c.AsSpan())
                s_sgemm(RowMajor, s.TransposeA ? Trans : NoTrans, s.TransposeB ? Trans : NoTrans, s.M, s.N, s.K, 1f, pa, lda, pb, ldb, 0f, pc, s.N);
        }
    }
}
