using NativeConv.Experiments.Data;
using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using SkiaSharp;

namespace NativeConv.Experiments.Reports;

/// <summary>The activations of one convolution (after its ReLU, as Keras' conv layers with activation='relu' output them).</summary>
/// <param name="Layer">The convolution's name ("conv2").</param>
/// <param name="Channels">Channels of the layer's output (all of them; the picture shows the first <see cref="FeatureMaps.MaxChannels"/>).</param>
/// <param name="Values">Per image, the (Channels, Height, Width) activations.</param>
public sealed record LayerActivations(string Layer, int Channels, int Height, int Width, float[][] Values);

/// <summary>
/// feature-maps-&lt;model&gt;.png: the first test image of each class (a row each) and, beside it, the first
/// <see cref="MaxChannels"/> channels of every convolution's output for that image, as a 4-column block per layer. Each map
/// is scaled to the input's size (nearest neighbour) and drawn 0 black … its own maximum white.
/// </summary>
public static class FeatureMaps
{
    public const int MaxChannels = 16, Columns = 4, MapGap = 1, BlockGap = 12, LabelWidth = 120, InputScale = 4, Margin = 8, MinWidth = 720;

    public static string FileName(string model) => $"feature-maps-{StudyArtifacts.FileSafe(model)}.png";

    /// <summary>The index of the first image of each class in <paramref name="data"/> (−1 for a class with none).</summary>
    public static int[] FirstOfEachClass(Dataset data)
    {
        var first = new int[data.ClassCount];
        Array.Fill(first, -1);
        for (int i = 0; i < data.Count; i++)
            if (first[data.Labels[i]] < 0) first[data.Labels[i]] = i;
        return first;
    }

    /// <summary>
    /// Runs the images at <paramref name="indices"/> through <paramref name="model"/> layer by layer (eval mode, no tape)
    /// up to its last convolution, keeping each convolution's output after the ReLU that follows it (or the convolution's
    /// own output when no ReLU follows). The model's training mode is restored afterwards.
    /// </summary>
    public static IReadOnlyList<LayerActivations> Compute(Module model, Dataset data, IReadOnlyList<int> indices)
    {
        var leaves = Pictures.Leaves(model);
        int lastConv = -1;
        for (int i = 0; i < leaves.Count; i++) if (leaves[i] is Conv2D) lastConv = i;
        var result = new List<LayerActivations>();
        if (lastConv < 0 || indices.Count == 0) return result;

        var (c, h, w) = data.Shape;
        var batch = new float[indices.Count * data.SampleSize];
        for (int i = 0; i < indices.Count; i++) data.Image(indices[i]).CopyTo(batch.AsSpan(i * data.SampleSize));

        bool wasTraining = model.IsTraining;
        model.Eval();
        var tape = Tape.Current;
        try
        {
            using var input = Tensor.FromArray(batch, new Shape(indices.Count, c, h, w), model.Backend);
            using (Tape.NoGrad())
            {
                var x = input;
                string? pending = null; // a convolution whose output is kept once its ReLU (if any) has run
                for (int i = 0; i < leaves.Count && (i <= lastConv || pending is not null); i++)
                {
                    if (pending is not null && leaves[i] is not ReLU)
                    {
                        result.Add(Keep(pending, x, indices.Count));
                        pending = null;
                        if (i > lastConv) break;
                    }
                    x = leaves[i].Forward(x);
                    if (leaves[i] is Conv2D conv) pending = conv.Name;
                    else if (pending is not null && leaves[i] is ReLU)
                    {
                        result.Add(Keep(pending, x, indices.Count));
                        pending = null;
                    }
                }
                if (pending is not null) result.Add(Keep(pending, x, indices.Count));
            }
        }
        finally
        {
            tape.Reset();
            if (wasTraining) model.Train();
        }
        return result;
    }

    private static LayerActivations Keep(string layer, Tensor output, int images)
    {
        var shape = output.Shape;
        if (shape.Rank != 4) throw new InvalidOperationException($"Feature maps: '{layer}' produced {shape}; a convolution's output is (N, C, H, W).");
        var all = Pictures.ToHost(output);
        int per = shape[1] * shape[2] * shape[3];
        var values = new float[images][];
        for (int i = 0; i < images; i++) values[i] = all.AsSpan(i * per, per).ToArray();
        return new LayerActivations(layer, shape[1], shape[2], shape[3], values);
    }

    /// <summary>Where everything lies: rows of classes, an input column, then one block per convolution.</summary>
    public sealed record Layout(int ImageHeight, int ImageWidth, int Rows, IReadOnlyList<int> ChannelsShown)
    {
        public int BlockRows(int layer) => (ChannelsShown[layer] + Columns - 1) / Columns;
        public int MaxBlockRows => ChannelsShown.Count == 0 ? 1 : ChannelsShown.Max(n => (n + Columns - 1) / Columns);
        public int BlockWidth => Columns * (ImageWidth + MapGap) - MapGap;
        public int RowHeight => Math.Max(ImageHeight * InputScale, MaxBlockRows * (ImageHeight + MapGap) - MapGap) + BlockGap;
        public int InputLeft => LabelWidth;
        public int BlockLeft(int layer) => LabelWidth + ImageWidth * InputScale + BlockGap + layer * (BlockWidth + BlockGap);
        public int Width => Math.Max(MinWidth, BlockLeft(ChannelsShown.Count) - BlockGap + Margin);
        public int Top(int row) => 2 * Pictures.TitleHeight + row * RowHeight;
        public int Height => Top(Rows) + Margin;

        /// <summary>The top-left pixel of channel <paramref name="channel"/>'s map of layer <paramref name="layer"/> in row <paramref name="row"/>.</summary>
        public (int X, int Y) MapOrigin(int row, int layer, int channel) =>
            (BlockLeft(layer) + channel % Columns * (ImageWidth + MapGap), Top(row) + channel / Columns * (ImageHeight + MapGap));
    }

    /// <summary>Computes and draws the feature maps of the first test image of each class; false (nothing written) without a convolution.</summary>
    public static bool Write(string path, string modelName, Module model, Dataset test)
    {
        var firsts = FirstOfEachClass(test);
        var rows = new List<int>();
        for (int k = 0; k < firsts.Length; k++) if (firsts[k] >= 0) rows.Add(k);
        var indices = rows.Select(k => firsts[k]).ToArray();
        var layers = Compute(model, test, indices);
        if (layers.Count == 0) return false;
        Draw(path, modelName, test, indices, layers);
        return true;
    }

    /// <summary>Draws computed activations of the images at <paramref name="indices"/> (one row each).</summary>
    public static void Draw(string path, string modelName, Dataset data, IReadOnlyList<int> indices, IReadOnlyList<LayerActivations> layers)
    {
        var (c, h, w) = data.Shape;
        var layout = new Layout(h, w, indices.Count, layers.Select(l => Math.Min(MaxChannels, l.Channels)).ToArray());
        using var bitmap = Pictures.NewBitmap(layout.Width, layout.Height);
        using (var canvas = new SKCanvas(bitmap))
        {
            Pictures.Text(canvas, $"{modelName}: one test image per class, first {MaxChannels} channels of each conv (after ReLU; 0 black … max white)",
                Margin, Pictures.TitleHeight - 8, 11);
            Pictures.Text(canvas, "input", layout.InputLeft, 2 * Pictures.TitleHeight - 8, 12);
            for (int l = 0; l < layers.Count; l++)
                Pictures.Text(canvas, $"{layers[l].Layer} ({layers[l].Channels}×{layers[l].Height}×{layers[l].Width})", layout.BlockLeft(l), 2 * Pictures.TitleHeight - 8, 12);
            for (int row = 0; row < indices.Count; row++)
            {
                int index = indices[row], top = layout.Top(row);
                int label = data.Labels[index];
                Pictures.Text(canvas, $"{label} {data.ClassNames[label]}", 6, top + h * InputScale / 2f + 5);
                Pictures.DrawImage(canvas, data.Image(index), c, h, w, layout.InputLeft, top, InputScale);
                for (int l = 0; l < layers.Count; l++)
                {
                    var layer = layers[l];
                    int plane = layer.Height * layer.Width;
                    // Nearest-neighbour: every map drawn at the input's size, whatever pooling did to it.
                    for (int ch = 0; ch < layout.ChannelsShown[l]; ch++)
                    {
                        var map = layer.Values[row].AsSpan(ch * plane, plane);
                        float max = 0;
                        foreach (float v in map) if (v > max) max = v;
                        var (x, y) = layout.MapOrigin(row, l, ch);
                        for (int py = 0; py < h; py++)
                            for (int px = 0; px < w; px++)
                            {
                                byte grey = Pictures.UnsignedGrey(map[py * layer.Height / h * layer.Width + px * layer.Width / w], max);
                                bitmap.SetPixel(x + px, y + py, new SKColor(grey, grey, grey));
                            }
                    }
                }
            }
        }
        Pictures.SavePng(bitmap, path);
    }
}
