using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

namespace NativeConv.Bench;

/// <summary>
/// `gemm-peak`: this machine's FP32 multiply-add peak at 128-bit vectors, at 256 and at 512 bits where accelerated (register-only
/// loops: 12 independent accumulator chains, `MultiplyAddEstimate`, i.e. one FMA where the CPU has FMA, a multiply and an
/// add where it does not — as under DOTNET_EnableAVX2=0), on 1 thread and on every thread, then our SGEMM at a square size
/// as a fraction of the peak of the width its micro-kernel runs (512 bits where AVX-512 is used: twice the 256-bit peak on
/// Zen 5 and Intel, the same on Zen 4, whose 512-bit instructions run on 256-bit units). Run it under the environment whose path you want to rate:
///
///   DOTNET_EnableAVX2=0 dotnet run -c Release --project bench -- gemm-peak [--size 1024] [--threads T]
/// </summary>
public static class GemmPeak
{
    public const string Command = "gemm-peak";

    public static int Run(string[] args)
    {
        int size = 1024, threads = Environment.ProcessorCount;
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--size" when value != null && int.TryParse(value, out size) && size >= 16: i++; break;
                case "--threads" when value != null && int.TryParse(value, out threads) && threads >= 1: i++; break;
                default:
                    Console.Error.WriteLine($"{Command}: unknown or incomplete option '{args[i]}'. Options: --size N (≥ 16), --threads T (≥ 1).");
                    return 2;
            }
        }
        ParallelFor.ThreadCount = threads;
        Console.WriteLine($"vector path: {CpuBackend.SimdDescription}; Vector<float> is {Vector<float>.Count * 32} bits; {threads} thread(s)");
        double peak128 = Peak<Vec128>(threads);
        Console.WriteLine($"peak, 128-bit: {Peak<Vec128>(1):F1} GFLOP/s a core, {peak128:F1} on {threads} thread(s)");
        double peak256 = 0, peak512 = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            peak256 = Peak<Vec256>(threads);
            Console.WriteLine($"peak, 256-bit: {Peak<Vec256>(1):F1} GFLOP/s a core, {peak256:F1} on {threads} thread(s)");
        }
        if (Vector512.IsHardwareAccelerated)
        {
            peak512 = Peak<Vec512>(threads);
            Console.WriteLine($"peak, 512-bit: {Peak<Vec512>(1):F1} GFLOP/s a core, {peak512:F1} on {threads} thread(s)");
        }

        var a = GemmShape.Fill(size * size, 1);
        var b = GemmShape.Fill(size * size, 2);
        var c = GemmShape.Aligned(size * size);
        void Call() => Sgemm.Run(false, false, size, size, size, 1f, a, size, b, size, 0f, c, size);
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1) Call();
        var times = new List<double>();
        double gflops = 2.0 * size * size * size / Alternation.MedianCall(Call, times, seconds: 3, minCalls: 5) * 1e-9;
        // Rated against the width of the micro-kernel that ran (the scalar kernel: against 128-bit vectors).
        var (peak, width) = Sgemm.AutoKind switch
        {
            GemmKernelKind.Vector512 => (peak512, "512-bit"),
            GemmKernelKind.Vector256 => (peak256, "256-bit"),
            _ => (peak128, "128-bit"),
        };
        Console.WriteLine($"sgemm {size}³: {gflops:F1} GFLOP/s (median of {times.Count}) = {100 * gflops / peak:F0} % of the {width} peak");
        return 0;
    }

    // Best of 5 half-second runs of the loop on every thread at once (flops counted as 2 per lane per multiply-add).
    private static double Peak<TVector>(int threads) where TVector : struct, IConvVector<TVector>
    {
        const long iterations = 20_000_000;
        double best = 0;
        for (int run = 0; run < 5; run++)
        {
            var clock = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, threads).Select(_ => Task.Factory.StartNew(() => Loop<TVector>(iterations), TaskCreationOptions.LongRunning)).ToArray();
            Task.WaitAll(workers);
            double seconds = clock.Elapsed.TotalSeconds;
            best = Math.Max(best, threads * iterations * 12.0 * TVector.Count * 2 / seconds * 1e-9);
        }
        return best;
    }

    // One source for every width, over the engine's vector structs (VecN.MultiplyAdd: fused where the CPU has FMA; the
    // 128-bit one a multiply and an add where it has not, as the Vector128 kernels run under DOTNET_EnableAVX2=0).

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop<TVector>(long iterations) where TVector : struct, IConvVector<TVector>
    {
        var m = TVector.Broadcast(0.999f);
        var s = TVector.Broadcast(1e-3f);
        TVector a0 = s, a1 = s, a2 = s, a3 = s, a4 = s, a5 = s, a6 = s, a7 = s, a8 = s, a9 = s, a10 = s, a11 = s;
        for (long i = 0; i < iterations; i++)
        {
            a0 = TVector.MultiplyAdd(a0, m, s); a1 = TVector.MultiplyAdd(a1, m, s);
            a2 = TVector.MultiplyAdd(a2, m, s); a3 = TVector.MultiplyAdd(a3, m, s);
            a4 = TVector.MultiplyAdd(a4, m, s); a5 = TVector.MultiplyAdd(a5, m, s);
            a6 = TVector.MultiplyAdd(a6, m, s); a7 = TVector.MultiplyAdd(a7, m, s);
            a8 = TVector.MultiplyAdd(a8, m, s); a9 = TVector.MultiplyAdd(a9, m, s);
            a10 = TVector.MultiplyAdd(a10, m, s); a11 = TVector.MultiplyAdd(a11, m, s);
        }
        return TVector.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
