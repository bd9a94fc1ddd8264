using System.Globalization;
using NativeConv.Layers;
using SkiaSharp;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// filters-&lt;model&gt;.png: the first convolution's kernels as a grid, at initialisation (top panel) and after training
/// (bottom panel). Each weight is a square of <see cref="ElementSize"/> pixels, grey on a signed scale (see
/// <see cref="Pictures.SignedGrey"/>) whose range m is the panel's largest |weight|. A filter over one input channel is one
/// tile; over three (CIFAR-10) it is a tile per input channel (R, G, B) followed by the RGB composite, whose red, green
/// and blue are the three channels' grey levels.
/// </summary>
public static class FilterGrid
{
    public const int ElementSize = 12, TileGap = 2, GroupGap = 10, Margin = 8, MinWidth = 780;

    /// <summary>Where everything lies in the picture of a (filters, channels, kernel) weight tensor.</summary>
    public sealed record Layout(int Filters, int Channels, int Kernel)
    {
        /// <summary>Tiles per filter: one per input channel, plus the RGB composite for three channels.</summary>
        public int TilesPerFilter => Channels == 3 ? 4 : Channels;

        public int FiltersPerRow => Math.Min(Filters, Channels == 1 ? 8 : 4);
        public int Rows => (Filters + FiltersPerRow - 1) / FiltersPerRow;
        public int Tile => Kernel * ElementSize;
        public int GroupWidth => TilesPerFilter * Tile + (TilesPerFilter - 1) * TileGap;
        public int Width => Math.Max(MinWidth, 2 * Margin + FiltersPerRow * GroupWidth + (FiltersPerRow - 1) * GroupGap);
        public int PanelHeight => Pictures.TitleHeight + Rows * Tile + (Rows - 1) * GroupGap + Margin;

        /// <summary>Two panels: at initialisation (0) and after training (1).</summary>
        public int Height => 2 * PanelHeight;

        /// <summary>The top-left pixel of tile <paramref name="tile"/> (input channel, or 3 = RGB composite) of a filter in a panel.</summary>
        public (int X, int Y) TileOrigin(int panel, int filter, int tile)
        {
            int row = filter / FiltersPerRow, column = filter % FiltersPerRow;
            int x = Margin + column * (GroupWidth + GroupGap) + tile * (Tile + TileGap);
            int y = panel * PanelHeight + Pictures.TitleHeight + row * (Tile + GroupGap);
            return (x, y);
        }
    }

    /// <summary>The file name of a model's filter picture.</summary>
    public static string FileName(string model) => $"filters-{StudyArtifacts.FileSafe(model)}.png";

    /// <summary>
    /// Draws the first convolution of <paramref name="initial"/> (the model as created, before training) and of
    /// <paramref name="trained"/>; false (nothing written) for a model without a convolution.
    /// </summary>
    public static bool Write(string path, string modelName, Module initial, Module trained)
    {
        if (Pictures.FirstConv(trained) is not { } conv) return false;
        var before = Pictures.FirstConv(initial) ?? throw new ArgumentException($"Filter grid of '{modelName}': the initial model has no convolution.", nameof(initial));
        if (before.Weight.Shape != conv.Weight.Shape)
            throw new ArgumentException($"Filter grid of '{modelName}': the initial first convolution is {before.Weight.Shape}, the trained one {conv.Weight.Shape}.");
        Write(path, modelName, Pictures.ToHost(before.Weight.Value), Pictures.ToHost(conv.Weight.Value), conv.OutChannels, conv.InChannels, conv.Kernel,
            $"{conv.Name}: {conv.OutChannels} filters {conv.Kernel}×{conv.Kernel}");
        return true;
    }

    /// <summary>Draws two (filters, channels, kernel, kernel) weight arrays, row-major, as the two panels.</summary>
    public static void Write(string path, string modelName, float[] initial, float[] trained, int filters, int channels, int kernel, string? what = null)
    {
        var layout = new Layout(filters, channels, kernel);
        int size = filters * channels * kernel * kernel;
        if (initial.Length != size || trained.Length != size)
            throw new ArgumentException($"Filter grid of '{modelName}': expected {size} weights ({filters}, {channels}, {kernel}, {kernel}); got {initial.Length} and {trained.Length}.");
        using var bitmap = Pictures.NewBitmap(layout.Width, layout.Height);
        using (var canvas = new SKCanvas(bitmap))
        {
            string tiles = channels == 3 ? " (each: R, G, B channel, RGB)" : "";
            DrawPanel(canvas, layout, 0, initial, $"{modelName} {what}{tiles} at initialisation");
            DrawPanel(canvas, layout, 1, trained, $"{modelName} {what}{tiles} after training");
        }
        Pictures.SavePng(bitmap, path);
    }

    private static void DrawPanel(SKCanvas canvas, Layout layout, int panel, float[] weights, string title)
    {
        float scale = 0;
        foreach (float w in weights) if (float.IsFinite(w)) scale = Math.Max(scale, Math.Abs(w));
        Pictures.Text(canvas, string.Create(CultureInfo.InvariantCulture, $"{title}: −m black, 0 grey, +m white, m = {scale:G3}"),
            Margin, panel * layout.PanelHeight + Pictures.TitleHeight - 8, 12);
        int k = layout.Kernel, plane = k * k;
        for (int f = 0; f < layout.Filters; f++)
        {
            int filterBase = f * layout.Channels * plane;
            for (int c = 0; c < layout.Channels; c++)
            {
                var (x, y) = layout.TileOrigin(panel, f, c);
                for (int e = 0; e < plane; e++)
                {
                    byte grey = Pictures.SignedGrey(weights[filterBase + c * plane + e], scale);
                    Pictures.Fill(canvas, x + e % k * ElementSize, y + e / k * ElementSize, ElementSize, ElementSize, new SKColor(grey, grey, grey));
                }
            }
            if (layout.Channels != 3) continue;
            var (cx, cy) = layout.TileOrigin(panel, f, 3);
            for (int e = 0; e < plane; e++)
            {
                var color = new SKColor(Pictures.SignedGrey(weights[filterBase + e], scale), Pictures.SignedGrey(weights[filterBase + plane + e], scale),
                    Pictures.SignedGrey(weights[filterBase + 2 * plane + e], scale));
                Pictures.Fill(canvas, cx + e % k * ElementSize, cy + e / k * ElementSize, ElementSize, ElementSize, color);
            }
        }
    }
}
