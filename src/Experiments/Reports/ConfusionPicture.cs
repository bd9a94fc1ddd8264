using NativeConv.Experiments.Training;
using System.Globalization;
using NativeConv.Experiments.Data;
using NativeConv.Layers;
using NativeConv.Layers.Inference;
using NativeConv.Tensors;
using NativeConv.Tensors.Inference;
using SkiaSharp;

namespace NativeConv.Experiments.Reports;

/// <summary>One off-diagonal cell of a confusion matrix: images of class <paramref name="Actual"/> predicted as <paramref name="Predicted"/>.</summary>
public readonly record struct ConfusedPair(int Actual, int Predicted, int Count);

/// <summary>Predictions of a model on a dataset, the confusion matrix they make, and its most-confused cells.</summary>
public static class ConfusionMatrix
{
    /// <summary>
    /// The predicted class of every image (arg-max of the logits, the first on ties; −1 when every logit is NaN), computed in
    /// batches of <paramref name="batch"/> through the model's inference path (dropout off; the model's mode is untouched).
    /// </summary>
    public static int[] Predict(Module model, Dataset data, int batch = 256)
    {
        var predictions = new int[data.Count];
        var (c, h, w) = data.Shape;
        // The inference path, matched to the training forward: the same predictions the trainer's evaluation makes.
        var session = new InferenceSession(model, new Shape(c, h, w), new InferenceOptions(MatchTrainingForward: true));
        var logits = new float[Math.Min(batch, Math.Max(1, data.Count)) * session.Outputs];
        for (int start = 0; start < data.Count; start += batch)
        {
            int n = Math.Min(batch, data.Count - start), classes = session.Outputs;
            session.Run(data.Images.AsSpan(start * data.SampleSize, n * data.SampleSize), n, logits.AsSpan(0, n * classes));
            for (int i = 0; i < n; i++) predictions[start + i] = Trainer.ArgMax(logits.AsSpan(i * classes, classes));
        }
        return predictions;
    }

    /// <summary>Rows: the true class; columns: the predicted one. A prediction of −1 (all-NaN logits) is counted nowhere.</summary>
    public static int[][] Count(ReadOnlySpan<byte> labels, ReadOnlySpan<int> predictions, int classes)
    {
        if (labels.Length != predictions.Length)
            throw new ArgumentException($"Confusion matrix: {labels.Length} labels but {predictions.Length} predictions.");
        var matrix = new int[classes][];
        for (int k = 0; k < classes; k++) matrix[k] = new int[classes];
        for (int i = 0; i < labels.Length; i++)
            if (predictions[i] >= 0) matrix[labels[i]][predictions[i]]++;
        return matrix;
    }

    /// <summary>
    /// The <paramref name="count"/> off-diagonal cells with the most images (true → predicted, directed: a shirt taken for a
    /// T-shirt is another pair than the reverse), largest first, ties in (true, predicted) order; cells with no image are left out.
    /// </summary>
    public static IReadOnlyList<ConfusedPair> MostConfused(int[][] confusion, int count)
    {
        var cells = new List<ConfusedPair>();
        for (int a = 0; a < confusion.Length; a++)
            for (int p = 0; p < confusion[a].Length; p++)
                if (a != p && confusion[a][p] > 0) cells.Add(new ConfusedPair(a, p, confusion[a][p]));
        return cells.OrderByDescending(x => x.Count).ThenBy(x => x.Actual).ThenBy(x => x.Predicted).Take(count).ToList();
    }
}

/// <summary>
/// confusion-&lt;model&gt;.png: the test confusion matrix as a heat-map (rows: true class; colour: the share of the row,
/// white 0 … dark blue 1, on a square-root scale so small confusions show; the count in each cell), and beside it the
/// <see cref="Pairs"/> most-confused (true → predicted) pairs with up to <see cref="Examples"/> example images each.
/// </summary>
public static class ConfusionPicture
{
    public const int Pairs = 5, Examples = 3, Cell = 40, LabelWidth = 130, Margin = 10, ExampleScale = 3, PanelGap = 30;

    public static string FileName(string model) => $"confusion-{StudyArtifacts.FileSafe(model)}.png";

    /// <summary>Where everything lies, for <paramref name="classes"/> classes and (H, W) images.</summary>
    public sealed record Layout(int Classes, int ImageHeight, int ImageWidth)
    {
        public int MatrixLeft => LabelWidth;
        public int MatrixTop => 2 * Pictures.TitleHeight + 18;
        public (int X, int Y) CellOrigin(int actual, int predicted) => (MatrixLeft + predicted * Cell, MatrixTop + actual * Cell);
        public int PairsLeft => MatrixLeft + Classes * Cell + PanelGap;
        public int ExampleSize => ImageHeight * ExampleScale;
        public int PairHeight => 18 + ExampleSize + 10;
        public (int X, int Y) ExampleOrigin(int pair, int example) => (PairsLeft + example * (ImageWidth * ExampleScale + 6), MatrixTop + pair * PairHeight + 18);
        public int Width => Math.Max(PairsLeft + Math.Max(260, Examples * (ImageWidth * ExampleScale + 6)) + Margin, 760);
        public int Height => Math.Max(MatrixTop + Classes * Cell + 30, MatrixTop + Pairs * PairHeight) + Margin;
    }

    /// <summary>The heat-map colour of a cell holding <paramref name="share"/> (0…1) of its row.</summary>
    public static SKColor CellColor(double share)
    {
        double t = Math.Sqrt(Math.Clamp(double.IsNaN(share) ? 0 : share, 0, 1));
        static byte Mix(double from, double to, double t) => (byte)Math.Round(from + (to - from) * t);
        return new SKColor(Mix(255, 8, t), Mix(255, 48, t), Mix(255, 107, t));
    }

    /// <summary>Predicts <paramref name="test"/> with <paramref name="model"/> and draws the picture; returns the confusion matrix drawn.</summary>
    public static int[][] Write(string path, string modelName, Module model, Dataset test)
    {
        var predictions = ConfusionMatrix.Predict(model, test);
        return Draw(path, modelName, test, predictions);
    }

    /// <summary>Draws the confusion of <paramref name="predictions"/> on <paramref name="data"/>; returns the matrix.</summary>
    public static int[][] Draw(string path, string modelName, Dataset data, int[] predictions)
    {
        int classes = data.ClassCount;
        var confusion = ConfusionMatrix.Count(data.Labels, predictions, classes);
        var pairs = ConfusionMatrix.MostConfused(confusion, Pairs);
        var (c, h, w) = data.Shape;
        var layout = new Layout(classes, h, w);
        int correct = 0;
        for (int k = 0; k < classes; k++) correct += confusion[k][k];
        using var bitmap = Pictures.NewBitmap(layout.Width, layout.Height);
        using (var canvas = new SKCanvas(bitmap))
        {
            Pictures.Text(canvas, string.Create(CultureInfo.InvariantCulture,
                $"{modelName}: test confusion matrix ({data.Count:N0} images, accuracy {(data.Count == 0 ? double.NaN : 100.0 * correct / data.Count):F2} %)"),
                Margin, Pictures.TitleHeight - 6, 13);
            Pictures.Text(canvas, "rows: true class, columns: predicted; colour: share of the row (√ scale)", Margin, 2 * Pictures.TitleHeight - 8, 11);
            for (int p = 0; p < classes; p++)
                Pictures.Text(canvas, p.ToString(CultureInfo.InvariantCulture), layout.MatrixLeft + p * Cell + Cell / 2f, layout.MatrixTop - 6, 12, SKTextAlign.Center);
            for (int a = 0; a < classes; a++)
            {
                long rowTotal = confusion[a].Sum(n => (long)n);
                Pictures.Text(canvas, $"{a} {data.ClassNames[a]}", 6, layout.MatrixTop + a * Cell + Cell / 2f + 5, 12);
                for (int p = 0; p < classes; p++)
                {
                    double share = rowTotal == 0 ? 0 : (double)confusion[a][p] / rowTotal;
                    var (x, y) = layout.CellOrigin(a, p);
                    Pictures.Fill(canvas, x, y, Cell, Cell, CellColor(share));
                    if (confusion[a][p] == 0) continue;
                    using var font = new SKFont(SKTypeface.Default, 11);
                    using var paint = new SKPaint { Color = share > 0.25 ? SKColors.White : SKColors.Black, IsAntialias = true };
                    canvas.DrawText(confusion[a][p].ToString(CultureInfo.InvariantCulture), x + Cell / 2f, y + Cell / 2f + 4, SKTextAlign.Center, font, paint);
                }
            }
            Pictures.Text(canvas, "most confused, true → predicted", layout.PairsLeft, layout.MatrixTop - 6, 12);
            for (int i = 0; i < pairs.Count; i++)
            {
                var pair = pairs[i];
                var (_, top) = layout.ExampleOrigin(i, 0);
                Pictures.Text(canvas, $"{data.ClassNames[pair.Actual]} → {data.ClassNames[pair.Predicted]}: {pair.Count}", layout.PairsLeft, top - 5, 12);
                int shown = 0;
                for (int index = 0; index < data.Count && shown < Examples; index++)
                {
                    if (data.Labels[index] != pair.Actual || predictions[index] != pair.Predicted) continue;
                    var (x, y) = layout.ExampleOrigin(i, shown++);
                    Pictures.DrawImage(canvas, data.Image(index), c, h, w, x, y, ExampleScale);
                }
            }
        }
        Pictures.SavePng(bitmap, path);
        return confusion;
    }
}
