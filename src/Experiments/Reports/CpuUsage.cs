using System.Diagnostics;
using System.Globalization;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// How much CPU this process used against the wall time it ran, and how much the rest of the machine used meanwhile — so
/// a finding that rests on wall-clock times can say whether the machine was busy (a shared machine can double an epoch).
/// </summary>
/// <param name="WallSeconds">Wall time of the measured stretch.</param>
/// <param name="ProcessCpuSeconds">User + system CPU time of this process over it.</param>
/// <param name="Threads">The kernels' thread count (--threads).</param>
/// <param name="LogicalCores">Logical processors of the machine.</param>
/// <param name="OtherCores">
/// Cores the other processes kept busy on average (the machine's busy time from /proc/stat minus this process's CPU time,
/// over the wall time); null where /proc/stat cannot be read.
/// </param>
/// <param name="Busy">The verdict of <see cref="Rule"/>.</param>
public sealed record CpuUsage(double WallSeconds, double ProcessCpuSeconds, int Threads, int LogicalCores, double? OtherCores, bool Busy)
{
    /// <summary>The other processes' average use, in cores, above which the machine counts as busy.</summary>
    public const double BusyOtherCores = 0.25;

    /// <summary>Without /proc/stat: busy when the process's CPU time is below this share of threads × wall.</summary>
    public const double BusyUtilisation = 0.5;

    /// <summary>The rule behind <see cref="Busy"/>, in words (report.md prints it).</summary>
    public static string Rule { get; } = string.Create(CultureInfo.InvariantCulture,
        $"busy when the other processes kept at least {BusyOtherCores} of a core busy on average over the run (machine busy time from /proc/stat minus this process's CPU time); " +
        $"where /proc/stat is unavailable, when this process's CPU time was under {BusyUtilisation} × threads × wall time");

    /// <summary>Process CPU time over wall time (about the thread count when the kernels had the cores to themselves).</summary>
    public double CpuPerWall => WallSeconds > 0 ? ProcessCpuSeconds / WallSeconds : double.NaN;

    /// <summary>One sentence for report.md: "CPU time 1.85 × wall on 2 threads …: the machine was not busy."</summary>
    public string Describe()
    {
        var invariant = CultureInfo.InvariantCulture;
        string others = OtherCores is { } other
            ? string.Create(invariant, $"; other processes kept {other:F2} cores busy on average")
            : "; the rest of the machine was not measured";
        return string.Create(invariant, $"CPU time {CpuPerWall:F2} × wall on {Threads} thread(s) ({ProcessCpuSeconds:F0} s CPU in {WallSeconds:F0} s, {LogicalCores} logical cores)") +
               others + $": the machine was {(Busy ? "busy — wall-clock times are slower than on a quiet machine" : "not busy")}.";
    }

    /// <summary>The verdict of <see cref="Rule"/> for the given numbers.</summary>
    public static bool IsBusy(double wallSeconds, double processCpuSeconds, int threads, double? otherCores) =>
        otherCores is { } other ? other >= BusyOtherCores : processCpuSeconds < BusyUtilisation * threads * wallSeconds;

    /// <summary>Starts measuring now.</summary>
    public static Meter Start() => new();

    /// <summary>A running measurement: the process's CPU time, the wall clock and the machine's /proc/stat counters at its start.</summary>
    public sealed class Meter
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
        private readonly double? _machineBusy = MachineBusySeconds();

        /// <summary>The usage from the start until now.</summary>
        public CpuUsage Stop(int threads)
        {
            double wall = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalSeconds;
            double? other = null;
            if (_machineBusy is { } before && MachineBusySeconds() is { } after && wall > 0)
                other = Math.Max(0, (after - before - cpu) / wall);
            return new CpuUsage(wall, cpu, threads, Environment.ProcessorCount, other, IsBusy(wall, cpu, threads, other));
        }
    }

    /// <summary>
    /// The machine's busy CPU seconds so far, all cores together (/proc/stat's first line: user, nice, system, irq, softirq,
    /// steal, in clock ticks of 1/100 s — Linux's USER_HZ on every architecture); null where it cannot be read.
    /// </summary>
    public static double? MachineBusySeconds()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return null;
            using var reader = new StreamReader("/proc/stat");
            string? line = reader.ReadLine();
            return line is null ? null : ParseBusySeconds(line);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>The busy seconds of a /proc/stat "cpu" line ("cpu  user nice system idle iowait irq softirq steal ...").</summary>
    public static double? ParseBusySeconds(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 8 || fields[0] != "cpu") return null;
        long busy = 0;
        foreach (int i in new[] { 1, 2, 3, 6, 7, 8 })
        {
            if (i >= fields.Length) break;
            if (!long.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)) return null;
            busy += ticks;
        }
        return busy / 100.0;
    }
}
