using System.Diagnostics;

namespace NativeConv.Bench;

/// <summary>
/// Two calls timed in alternation in one process, the method of `alternate-openblas`, `alternate-onnxruntime` and
/// `alternate-build`: on a shared machine both sides drift by 10–30 % over minutes, and alternating every fraction of a
/// second keeps each pair of numbers in the same conditions. Each round times one side for 0.4 s, pauses, times the other;
/// who goes first alternates, so neither always follows the other's pause.
/// </summary>
internal static class Alternation
{
    /// <summary>
    /// Each side's median call (seconds) per round. <paramref name="pauseMs"/> between turns lets a library's idle threads
    /// stop spinning before the other side runs. Every timed call also goes to <paramref name="firstCalls"/> /
    /// <paramref name="secondCalls"/> when given (latency percentiles).
    /// </summary>
    public static (double[] First, double[] Second) Rounds(Action first, Action second, int rounds, int pauseMs,
        List<double>? firstCalls = null, List<double>? secondCalls = null)
    {
        var firstMedians = new double[rounds];
        var secondMedians = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            if (r % 2 == 0)
            {
                firstMedians[r] = MedianCall(first, firstCalls);
                Thread.Sleep(pauseMs);
                secondMedians[r] = MedianCall(second, secondCalls);
            }
            else
            {
                secondMedians[r] = MedianCall(second, secondCalls);
                Thread.Sleep(pauseMs);
                firstMedians[r] = MedianCall(first, firstCalls);
            }
            Thread.Sleep(pauseMs);
        }
        return (firstMedians, secondMedians);
    }

    /// <summary>
    /// Both calls in turn for <paramref name="seconds"/>: the JIT's later tiers, both sides' threads and buffers, the
    /// operands in memory.
    /// </summary>
    public static void WarmUp(Action first, Action second, double seconds)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            first();
            second();
        }
    }

    /// <summary>
    /// The median call over <paramref name="seconds"/> (at least <paramref name="minCalls"/> calls), after one untimed
    /// call; every timed call also goes to <paramref name="all"/> when given.
    /// </summary>
    public static double MedianCall(Action call, List<double>? all = null, double seconds = 0.4, int minCalls = 3)
    {
        call();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds || times.Count < minCalls)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        all?.AddRange(times);
        times.Sort();
        return times[times.Count / 2];
    }
}
