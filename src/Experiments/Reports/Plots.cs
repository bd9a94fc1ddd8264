using System.Globalization;
using NativeConv.Experiments.Training;
using ScottPlot;
using SkiaSharp;

namespace NativeConv.Experiments.Reports;

/// <summary>A point of the accuracy-versus-size chart: <paramref name="Label"/> in the legend, <paramref name="PointLabel"/>
/// beside the marker (null: the label; "": none).</summary>
public readonly record struct SizeAccuracyPoint(string Label, long Parameters, double Accuracy, string? PointLabel = null);

/// <summary>A bar of the generalisation-gap chart: accuracy on the training set and on held-out data.</summary>
public readonly record struct GapBar(string Label, double TrainAccuracy, double HeldOutAccuracy);

/// <summary>
/// The study plots, as SVG files (ScottPlot 5, rendered through Skia's SVG canvas) with a PNG of each beside it
/// (<see cref="PngFor"/>), each written atomically. Accuracies are
/// fractions in the inputs and percentages on the axes.
/// </summary>
public static class Plots
{
    public const int DefaultWidth = 900;
    public const int DefaultHeight = 420;

    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    /// <summary>
    /// Learning curves of one model: train and validation loss (left panel) and accuracy (right panel) per epoch, with a
    /// dotted line at <paramref name="bestEpoch"/> (the epoch whose weights were kept; 0 = none).
    /// </summary>
    public static void LearningCurves(string path, string modelName, IReadOnlyList<EpochMetrics> history, int bestEpoch = 0,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows: 1, columns: 2);
        var loss = multiplot.GetPlot(0);
        var accuracy = multiplot.GetPlot(1);

        double[] epochs = new double[history.Count];
        double[] trainLoss = new double[history.Count], validationLoss = new double[history.Count];
        double[] trainAccuracy = new double[history.Count], validationAccuracy = new double[history.Count];
        for (int i = 0; i < history.Count; i++)
        {
            epochs[i] = history[i].Epoch;
            trainLoss[i] = history[i].TrainLoss;
            validationLoss[i] = history[i].ValidationLoss;
            trainAccuracy[i] = history[i].TrainAccuracy * 100;
            validationAccuracy[i] = history[i].ValidationAccuracy * 100;
        }

        AddCurves(loss, epochs, trainLoss, validationLoss, bestEpoch, Alignment.UpperRight);
        loss.Title($"{modelName}: loss");
        loss.YLabel("cross-entropy");
        AddCurves(accuracy, epochs, trainAccuracy, validationAccuracy, bestEpoch, Alignment.LowerRight);
        accuracy.Title($"{modelName}: accuracy");
        accuracy.YLabel("accuracy (%)");
        AtomicFile.WriteAllText(path, RenderSvg(multiplot, width, height));
        AtomicFile.WriteAllBytes(PngFor(path), RenderPng(multiplot, width, height));
    }

    /// <summary>One curve per model of a metric per epoch (e.g. every model's validation accuracy), for comparing models.</summary>
    public static void CompareCurves(string path, string title, string yLabel,
        IReadOnlyList<(string Label, IReadOnlyList<EpochMetrics> History)> models, Func<EpochMetrics, double> metric,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        var plot = new Plot();
        for (int m = 0; m < models.Count; m++)
        {
            var history = models[m].History;
            double[] xs = new double[history.Count], ys = new double[history.Count];
            for (int i = 0; i < history.Count; i++)
            {
                xs[i] = history[i].Epoch;
                ys[i] = metric(history[i]);
            }
            var line = plot.Add.Scatter(xs, ys, Palette.GetColor(m));
            line.LegendText = models[m].Label;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        IntegerEpochTicks(plot);
        plot.ShowLegend(Alignment.LowerRight);
        WriteSvgAndPng(path, plot, width, height);
    }

    /// <summary>
    /// Test (or validation) accuracy against trainable parameters, x on a log scale, one labelled point per model. The x
    /// ticks are 1-2-5 steps of each decade the points span (or every digit when they span less than one), so two models
    /// a factor of two apart still get labelled ticks; the legend sits outside the data area, where it covers no point.
    /// Writes the SVG and a PNG beside it (<see cref="PngFor"/>).
    /// </summary>
    public static void AccuracyVsParameters(string path, string title, IReadOnlyList<SizeAccuracyPoint> points,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        var plot = new Plot();
        bool labelPoints = points.Count <= MaxLabelledPoints;
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            if (p.Parameters <= 0)
                throw new ArgumentException($"Accuracy-vs-parameters plot: '{p.Label}' has {p.Parameters} parameters; a log axis needs a positive count.");
            double x = Math.Log10(p.Parameters), y = p.Accuracy * 100;
            // Ten colours, then the next marker shape: every point stays tellable apart in the legend.
            var marker = plot.Add.Marker(x, y, MarkerShapes[i / 10 % MarkerShapes.Length], 10, Palette.GetColor(i % 10));
            marker.LegendText = $"{p.Label} ({Markdown.Count(p.Parameters)})";
            string text = p.PointLabel ?? p.Label;
            if (!labelPoints || text.Length == 0) continue; // many points: the legend names them; labels beside each would overlap
            var label = plot.Add.Text(text, x, y);
            label.LabelFontSize = 12;
            label.OffsetY = -8;
            label.LabelAlignment = Alignment.LowerCenter;
        }
        double low = points.Count > 0 ? points.Min(p => Math.Log10(p.Parameters)) : 4;
        double high = points.Count > 0 ? points.Max(p => Math.Log10(p.Parameters)) : 6;
        // Room around the points: at least a quarter decade, so a single point (or two close ones) sits inside the frame.
        LogAxisX(plot, low, high, Math.Max(0.25, 0.12 * (high - low)));
        if (points.Count > 0)
        {
            double lowY = points.Min(p => p.Accuracy * 100), highY = points.Max(p => p.Accuracy * 100);
            double padY = Math.Max(2, 0.2 * (highY - lowY));
            plot.Axes.SetLimitsY(lowY - padY, highY + padY);
        }
        plot.Title(title);
        plot.XLabel("trainable parameters (log scale)");
        plot.YLabel("accuracy (%)");
        plot.ShowLegend(Edge.Right);
        // The legend outside takes its own room, so the data area keeps the width asked for.
        int legend = points.Count == 0 ? 0 : Math.Min(700, 60 + 7 * points.Max(p => p.Label.Length + Markdown.Count(p.Parameters).Length + 3));
        // An outside legend that is taller than the data area wraps into a second column that the width above has no room
        // for (the summary of `all` cut it off at the right edge): grow the height so every entry fits one column.
        WriteSvgAndPng(path, plot, width + legend, Math.Max(height, LegendColumnHeight(points.Count)));
    }

    /// <summary>
    /// A log x axis (the plot's x values are log10 of the data) over [<paramref name="low"/>, <paramref name="high"/>] in
    /// log10 units, <paramref name="pad"/> of them added on each side, with round 1-2-5 ticks (<see cref="LogTicks"/>)
    /// labelled in data units.
    /// </summary>
    internal static void LogAxisX(Plot plot, double low, double high, double pad)
    {
        plot.Axes.SetLimitsX(low - pad, high + pad);
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (value, label) in LogTicks(Math.Pow(10, low - pad), Math.Pow(10, high + pad))) ticks.AddMajor(Math.Log10(value), label);
        plot.Axes.Bottom.TickGenerator = ticks;
    }

    /// <summary>
    /// The figure height at which an outside legend of <paramref name="entries"/> entries fits one column: about 20 px an
    /// entry at ScottPlot's default legend font, measured, with a margin, plus the title and the x axis above and below the
    /// data area (about 95 px together).
    /// </summary>
    internal static int LegendColumnHeight(int entries) => 130 + 22 * entries;

    private static readonly MarkerShape[] MarkerShapes =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.FilledTriangleDown];

    /// <summary>Points labelled beside their marker; above this the legend alone names them.</summary>
    public const int MaxLabelledPoints = 8;

    /// <summary>
    /// Ticks of a log axis from <paramref name="low"/> to <paramref name="high"/> (positive counts): the 1-2-5 values of each
    /// decade in range, or 1…9 × 10^k when that gives fewer than two, labelled with the count ("200,000").
    /// </summary>
    public static IReadOnlyList<(double Value, string Label)> LogTicks(double low, double high)
    {
        if (!(low > 0) || !(high >= low)) throw new ArgumentOutOfRangeException(nameof(low), $"A log axis needs 0 < low <= high; got {low}, {high}.");
        foreach (int[] mantissas in new[] { new[] { 1, 2, 5 }, new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 } })
        {
            var ticks = new List<(double, string)>();
            for (int decade = (int)Math.Floor(Math.Log10(low)); decade <= (int)Math.Ceiling(Math.Log10(high)); decade++)
                foreach (int m in mantissas)
                {
                    double value = m * Math.Pow(10, decade);
                    if (value >= low * (1 - 1e-12) && value <= high * (1 + 1e-12))
                        ticks.Add((value, value.ToString("N0", CultureInfo.InvariantCulture)));
                }
            if (ticks.Count >= 2 || mantissas.Length == 9) return ticks;
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>The generalisation gap (train accuracy − held-out accuracy, in percentage points) of each model, as bars.</summary>
    public static void GeneralizationGap(string path, string title, IReadOnlyList<GapBar> bars,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        var plot = new Plot();
        var positions = new double[bars.Count];
        var labels = new string[bars.Count];
        var items = new List<Bar>(bars.Count);
        double low = 0, high = 0;
        for (int i = 0; i < bars.Count; i++)
        {
            double gap = (bars[i].TrainAccuracy - bars[i].HeldOutAccuracy) * 100;
            positions[i] = i;
            labels[i] = bars[i].Label;
            if (double.IsFinite(gap)) { low = Math.Min(low, gap); high = Math.Max(high, gap); }
            items.Add(new Bar
            {
                Position = i,
                Value = gap,
                FillColor = Palette.GetColor(i),
                Label = gap.ToString("F2", CultureInfo.InvariantCulture),
            });
        }
        var barPlot = plot.Add.Bars(items);
        barPlot.ValueLabelStyle.FontSize = 12;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, labels);
        // The zero line always shows, whichever sign the gaps have, with room for the value labels.
        double span = Math.Max(high - low, 1);
        plot.Axes.SetLimitsY(low < 0 ? low - 0.15 * span : 0, high > 0 ? high + 0.15 * span : 0);
        plot.Add.HorizontalLine(0, 1, Colors.Black);
        plot.Title(title);
        plot.YLabel("train − held-out accuracy (pp)");
        WriteSvgAndPng(path, plot, width, height);
    }

    // ---------------------------------------------------------------- helpers

    private static void AddCurves(Plot plot, double[] epochs, double[] train, double[] validation, int bestEpoch, Alignment legend)
    {
        var trainLine = plot.Add.Scatter(epochs, train, Palette.GetColor(0));
        trainLine.LegendText = "train";
        var validationLine = plot.Add.Scatter(epochs, validation, Palette.GetColor(1));
        validationLine.LegendText = "validation";
        if (bestEpoch > 0)
        {
            var best = plot.Add.VerticalLine(bestEpoch, 1, Colors.Gray, LinePattern.Dotted);
            best.LegendText = $"kept (epoch {bestEpoch})";
        }
        plot.XLabel("epoch");
        IntegerEpochTicks(plot);
        plot.ShowLegend(legend);
    }

    private static void IntegerEpochTicks(Plot plot) =>
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

    /// <summary>The PNG written beside an SVG plot: the same path with ".png" (report.md shows the PNG: every viewer can).</summary>
    public static string PngFor(string svgPath) => Path.ChangeExtension(svgPath, ".png");

    /// <summary>Writes <paramref name="plot"/> as SVG at <paramref name="path"/> and as PNG beside it, both atomically.</summary>
    public static void WriteSvgAndPng(string path, Plot plot, int width, int height)
    {
        AtomicFile.WriteAllText(path, plot.GetSvgXml(width, height));
        AtomicFile.WriteAllBytes(PngFor(path), plot.GetImageBytes(width, height, ImageFormat.Png));
    }

    private static byte[] RenderPng(Multiplot multiplot, int width, int height)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        surface.Canvas.Clear(SKColors.White);
        multiplot.Render(surface.Canvas, new PixelRect(0, width, height, 0));
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static string RenderSvg(Multiplot multiplot, int width, int height)
    {
        using var stream = new SKDynamicMemoryWStream();
        using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), stream))
        {
            canvas.Clear(SKColors.White);
            multiplot.Render(canvas, new PixelRect(0, width, height, 0));
        }
        using var data = stream.DetachAsData();
        return System.Text.Encoding.UTF8.GetString(data.AsSpan());
    }
}
