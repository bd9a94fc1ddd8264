using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Mathematics;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace NativeConv.Bench;

/// <summary>
/// A numeric column computed from a case's timing statistics (nanoseconds per operation): GFLOP/s, images/s. The one
/// implementation of BenchmarkDotNet's column plumbing that every benchmark class uses; each supplies only its formula.
/// </summary>
internal sealed class RateColumn(string id, string name, string legend, int priority, string format,
    Func<BenchmarkCase, Statistics, double> rate) : IColumn
{
    public string Id => id;
    public string ColumnName => name;
    public string Legend => legend;
    public int PriorityInCategory => priority;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (summary[benchmarkCase]?.ResultStatistics is not { Mean: > 0 } stats) return "-";
        double value = rate(benchmarkCase, stats);
        return double.IsFinite(value) && value > 0 ? value.ToString(format, CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>The value of the case's parameter <paramref name="parameter"/>, or null.</summary>
    public static object? Parameter(BenchmarkCase benchmarkCase, string parameter)
    {
        foreach (var p in benchmarkCase.Parameters.Items)
            if (p.Name == parameter) return p.Value;
        return null;
    }
}
