using System.Globalization;
using NativeConv.Tensors.Autograd;

namespace NativeConv.Experiments.Commands;

/// <summary>Prints a <see cref="StepProfiler"/>'s result: one row per op in forward order, the phases, then totals per op kind.</summary>
public static class StepProfileTable
{
    public static void Write(TextWriter output, StepProfiler profiler, double unprofiledMillisecondsPerStep)
    {
        int steps = profiler.Steps;
        double total = profiler.TotalMilliseconds();
        var c = CultureInfo.InvariantCulture;
        output.WriteLine();
        output.WriteLine($"profile: mean of {steps} steps; the backend is synchronised around every op, so a step takes {total.ToString("F2", c)} ms here vs {unprofiledMillisecondsPerStep.ToString("F2", c)} ms unprofiled");
        output.WriteLine($"{"#",3}  {"op",-20} {"output",-18} {"forward ms",11} {"backward ms",12} {"share",7}");
        for (int i = 0; i < profiler.Entries.Count; i++)
        {
            var e = profiler.Entries[i];
            double fwd = e.ForwardMilliseconds(steps), bwd = e.BackwardMilliseconds(steps);
            output.WriteLine($"{i + 1,3}  {e.Op,-20} {e.Output.ToString(),-18} {fwd.ToString("F3", c),11} {bwd.ToString("F3", c),12} {Share(fwd + bwd, total),7}");
        }
        foreach (var phase in profiler.Phases)
        {
            double ms = phase.ForwardMilliseconds(steps);
            output.WriteLine($"{"",3}  {phase.Op,-39} {ms.ToString("F3", c),11} {"",12} {Share(ms, total),7}");
        }

        // Totals per op kind, largest first: where to look first.
        var kinds = new Dictionary<string, (double Forward, double Backward)>();
        foreach (var e in profiler.Entries)
        {
            kinds.TryGetValue(e.Op, out var sum);
            kinds[e.Op] = (sum.Forward + e.ForwardMilliseconds(steps), sum.Backward + e.BackwardMilliseconds(steps));
        }
        var ordered = new List<KeyValuePair<string, (double Forward, double Backward)>>(kinds);
        ordered.Sort((a, b) => (b.Value.Forward + b.Value.Backward).CompareTo(a.Value.Forward + a.Value.Backward));
        output.WriteLine("by op kind:");
        foreach (var (op, sum) in ordered)
            output.WriteLine($"{"",3}  {op,-39} {sum.Forward.ToString("F3", c),11} {sum.Backward.ToString("F3", c),12} {Share(sum.Forward + sum.Backward, total),7}");
        output.WriteLine($"{"",3}  {"total",-39} {"",11} {"",12} {total.ToString("F2", c) + " ms",7}");
        output.WriteLine();
    }

    private static string Share(double part, double total) =>
        total > 0 ? (100 * part / total).ToString("F1", CultureInfo.InvariantCulture) + " %" : "-";
}
