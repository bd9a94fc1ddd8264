using System.Globalization;
using NativeConv.Experiments.Training;
using ScottPlot;
using SkiaSharp;

namespace NativeConv.Experiments.Reports;

/// <summary>A point of the accuracy-versus-size chart.</summary>
public readonly record struct SizeAccuracyPoint(string Label, long Parameters, double Accuracy);

/// <summary>A bar of the generalisation-gap chart: accuracy on the training set and on held-out data.</summary>
public readonly record struct GapBar(string Label, double TrainAccuracy, double HeldOutAccuracy);

/// <summary>
/// The study plots, as SVG files (ScottPlot 5, rendered through Skia's SVG canvas), each written atomically. Accuracies are
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
        AtomicFile.WriteAllText(path, plot.GetSvgXml(width, height));
    }

    /// <summary>Test (or validation) accuracy against trainable parameters, x on a log scale, one labelled point per model.</summary>
    public static void AccuracyVsParameters(string path, string title, IReadOnlyList<SizeAccuracyPoint> points,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        var plot = new Plot();
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            if (p.Parameters <= 0)
                throw new ArgumentException($"Accuracy-vs-parameters plot: '{p.Label}' has {p.Parameters} parameters; a log axis needs a positive count.");
            double x = Math.Log10(p.Parameters), y = p.Accuracy * 100;
            var marker = plot.Add.Marker(x, y, MarkerShape.FilledCircle, 10, Palette.GetColor(i));
            marker.LegendText = $"{p.Label} ({Markdown.Count(p.Parameters)})";
            var label = plot.Add.Text(p.Label, x, y);
            label.LabelFontSize = 12;
            label.OffsetY = -8;
            label.LabelAlignment = Alignment.LowerCenter;
        }
        // Log scale: the data are log10(parameters); ticks at whole decades labelled with the count, log-spaced minor ticks.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => Math.Pow(10, v).ToString("N0", CultureInfo.InvariantCulture),
        };
        plot.Title(title);
        plot.XLabel("trainable parameters (log scale)");
        plot.YLabel("accuracy (%)");
        plot.Axes.Margins(0.15, 0.2);
        plot.ShowLegend(Alignment.LowerRight);
        AtomicFile.WriteAllText(path, plot.GetSvgXml(width, height));
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
        AtomicFile.WriteAllText(path, plot.GetSvgXml(width, height));
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
