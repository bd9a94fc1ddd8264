using ScottPlot;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// One curve of an <see cref="InductiveBiasPlots.Curves"/> chart: points, optional ± error bars (same units as Y); a
/// secondary curve is drawn thin with open squares (Skia's SVG canvas cannot draw dashed lines).
/// </summary>
public sealed record CurveSeries(string Label, double[] X, double[] Y, double[]? Error = null, bool Secondary = false, int ColorIndex = -1);

/// <summary>
/// The charts of the shift, permutation and sample-efficiency studies (ScottPlot 5): each written as SVG and, beside it, as
/// PNG (same name, .png) so a report shows in any viewer. Files are written atomically.
/// </summary>
public static class InductiveBiasPlots
{
    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    /// <summary>
    /// Curves of Y against X (one per series, error bars where given), x on a log10 scale when <paramref name="logX"/>
    /// (ticks labelled with the plain numbers); the legend goes where the curves leave room (<paramref name="legend"/>). <paramref name="svgPath"/> ends in .svg; the PNG goes beside it.
    /// </summary>
    public static void Curves(string svgPath, string title, string xLabel, string yLabel, IReadOnlyList<CurveSeries> series, bool logX = false,
        double? horizontalLine = null, string? horizontalLineLabel = null, Alignment legend = Alignment.LowerRight, int width = Plots.DefaultWidth, int height = Plots.DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (!svgPath.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) throw new ArgumentException($"Curves: '{svgPath}' must end in .svg (the PNG is written beside it).");
        var plot = new Plot();
        for (int s = 0; s < series.Count; s++)
        {
            var curve = series[s];
            if (curve.X.Length != curve.Y.Length || (curve.Error is { } e && e.Length != curve.Y.Length))
                throw new ArgumentException($"Curves: series '{curve.Label}' has {curve.X.Length} x, {curve.Y.Length} y and {curve.Error?.Length} error values.");
            double[] xs = new double[curve.X.Length];
            for (int i = 0; i < xs.Length; i++)
            {
                if (logX && !(curve.X[i] > 0)) throw new ArgumentException($"Curves: series '{curve.Label}' has x = {curve.X[i]}; a log axis needs positive values.");
                xs[i] = logX ? Math.Log10(curve.X[i]) : curve.X[i];
            }
            var color = Palette.GetColor(curve.ColorIndex >= 0 ? curve.ColorIndex : s);
            var line = plot.Add.Scatter(xs, curve.Y, color);
            line.LegendText = curve.Label;
            line.LineWidth = curve.Secondary ? 1 : 2;
            line.MarkerSize = curve.Secondary ? 7 : 6;
            if (curve.Secondary) line.MarkerShape = MarkerShape.OpenSquare;
            if (curve.Error is { } errors)
            {
                var bars = plot.Add.ErrorBar(xs, curve.Y, errors);
                bars.Color = color;
            }
        }
        if (horizontalLine is double level)
        {
            var reference = plot.Add.HorizontalLine(level);
            reference.LineWidth = 1;
            reference.Color = Colors.Gray;
            if (horizontalLineLabel is not null) reference.LegendText = horizontalLineLabel;
        }
        plot.Axes.Margins(0.05, 0.1);
        if (logX && series.Any(c => c.X.Length > 0))
        {
            // Round 1-2-5 ticks of the range (Plots.LogTicks), not the automatic ones: those fall at even steps of log10(x)
            // and were labelled 1,585, 2,512, 3,981... on the sample-efficiency plot. The limits are set after Margins, which
            // autoscales, and pad the points by a tenth of a decade at least, so the outer points keep clear of the frame.
            double low = Math.Log10(series.Where(c => c.X.Length > 0).Min(c => c.X.Min()));
            double high = Math.Log10(series.Where(c => c.X.Length > 0).Max(c => c.X.Max()));
            Plots.LogAxisX(plot, low, high, Math.Max(0.1, 0.06 * (high - low)));
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(legend);
        AtomicFile.WriteAllText(svgPath, plot.GetSvgXml(width, height));
        AtomicFile.WriteAllBytes(Path.ChangeExtension(svgPath, ".png"), plot.GetImageBytes(width, height, ImageFormat.Png));
    }
}
