using NativeConv.Experiments.Reports;

namespace NativeConv.Experiments.Studies;

/// <summary>
/// A number measured once per seed, summarised as mean, sample std and the 95 % Student-t interval of the mean
/// (mean ± t(0.975, K−1) · std / √K); with one seed the interval is unknown (NaN bounds).
/// </summary>
public sealed record SeedInterval(double Mean, double Std, int Count, double Low, double High)
{
    public static SeedInterval Of(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var stat = SeedStat.Of(values);
        if (stat.Count < 2) return new SeedInterval(stat.Mean, stat.Std, stat.Count, double.NaN, double.NaN);
        double half = StudentT975(stat.Count - 1) * stat.Std / Math.Sqrt(stat.Count);
        return new SeedInterval(stat.Mean, stat.Std, stat.Count, stat.Mean - half, stat.Mean + half);
    }

    /// <summary>Whether the interval is known (two seeds or more) and holds <paramref name="value"/>.</summary>
    public bool Contains(double value) => Count > 1 && Low <= value && value <= High;

    /// <summary>"91.23 % (95 % interval 90.80 – 91.66 %, 3 seeds)" for fractions; "(one seed: no interval)" with one seed.</summary>
    public string FormatPercent() => Count > 1
        ? $"{Markdown.Number(Mean * 100, 2)} % (95 % interval {Markdown.Number(Low * 100, 2)} – {Markdown.Number(High * 100, 2)} %, {Count} seeds)"
        : $"{Markdown.Number(Mean * 100, 2)} % (one seed: no interval)";

    /// <summary>As <see cref="FormatPercent"/> for a difference of fractions, in percentage points with a sign.</summary>
    public string FormatPoints() => Count > 1
        ? $"{Signed(Mean * 100)} pp (95 % interval {Signed(Low * 100)} to {Signed(High * 100)} pp, {Count} seeds)"
        : $"{Signed(Mean * 100)} pp (one seed: no interval)";

    private static string Signed(double value) => (value >= 0 ? "+" : "−") + Markdown.Number(Math.Abs(value), 2);

    /// <summary>The 97.5 % quantile of Student's t with <paramref name="df"/> degrees of freedom (table to 30, then 1.96 + 2.4/df).</summary>
    public static double StudentT975(int df)
    {
        ReadOnlySpan<double> table =
        [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
            2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
            2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ];
        ArgumentOutOfRangeException.ThrowIfLessThan(df, 1);
        return df <= table.Length ? table[df - 1] : 1.96 + 2.4 / df;
    }
}
