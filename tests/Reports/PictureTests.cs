using NativeConv.Experiments.Data;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Studies;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tests.Data;
using SkiaSharp;
using Spectre.Console;

namespace NativeConv.Tests.Reports;

/// <summary>
/// The pictures of a CNN (filters, feature maps, confusion) and the architecture diagram: files that decode at the size
/// their layout says, pixels that show the values put in, counts that match a hand-computed matrix. Real test images from
/// $NATIVECONV_DATA.
/// </summary>
// Forward passes use the engine's threads: run beside the tests that change them, not under them.
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)]
public sealed class PictureTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-pictures-" + Guid.NewGuid().ToString("N"));

    public PictureTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static readonly Lazy<Dataset> FashionTest = new(() => Load(DatasetCatalog.FashionMnistName).Select(Enumerable.Range(0, 400).ToArray()));
    private static readonly Lazy<Dataset> CifarTest = new(() => Load(DatasetCatalog.Cifar10Name).Select(Enumerable.Range(0, 300).ToArray()));

    private static Dataset Load(string dataset) =>
        StudyRunner.LoadData(dataset, RealData.Locator.Root, AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }), allowDownload: false).Test;

    private static SKBitmap Decode(string path)
    {
        var bitmap = SKBitmap.Decode(path);
        Assert.True(bitmap is not null, $"{path} does not decode as an image");
        return bitmap;
    }

    private static void SetFirstConv(Module model, Func<int, int, int, float> weight)
    {
        var conv = Pictures.FirstConv(model)!;
        int k = conv.Kernel, plane = k * k;
        var values = new float[conv.Weight.Shape.Size];
        for (int f = 0; f < conv.OutChannels; f++)
            for (int c = 0; c < conv.InChannels; c++)
                for (int e = 0; e < plane; e++)
                    values[(f * conv.InChannels + c) * plane + e] = weight(f, c, e);
        conv.Weight.Value.CopyFrom(values);
    }

    private static (byte R, byte G, byte B) Sample(SKBitmap bitmap, FilterGrid.Layout layout, int panel, int filter, int tile, int element)
    {
        var (x, y) = layout.TileOrigin(panel, filter, tile);
        var color = bitmap.GetPixel(x + element % layout.Kernel * FilterGrid.ElementSize + FilterGrid.ElementSize / 2,
            y + element / layout.Kernel * FilterGrid.ElementSize + FilterGrid.ElementSize / 2);
        return (color.Red, color.Green, color.Blue);
    }

    [Fact]
    public void The_filter_grid_of_a_grey_model_shows_the_weights_it_was_given()
    {
        var initial = ModelZoo.Create("fmnist-cnn", 7);
        var trained = ModelZoo.Create("fmnist-cnn", 7);
        // w = (9f + e − 72) / 72: filter 0's first weight is −1 (the largest magnitude: m = 1), filter 8's first is 0.
        SetFirstConv(trained, (f, _, e) => (9 * f + e - 72) / 72f);
        string path = Path.Combine(_folder, FilterGrid.FileName("fmnist-cnn"));
        Assert.True(FilterGrid.Write(path, "fmnist-cnn", initial, trained));

        using var bitmap = Decode(path);
        var layout = new FilterGrid.Layout(16, 1, 3);
        Assert.Equal((layout.Width, layout.Height), (bitmap.Width, bitmap.Height));
        Assert.Equal((8, 2), (layout.FiltersPerRow, layout.Rows));
        // Hand-computed grey levels: round(127.5 + 127.5 w).
        Assert.Equal(((byte)0, (byte)0, (byte)0), Sample(bitmap, layout, 1, 0, 0, 0));          // w = −1: black
        Assert.Equal(((byte)128, (byte)128, (byte)128), Sample(bitmap, layout, 1, 8, 0, 0));    // w = 0: mid-grey
        Assert.Equal(((byte)253, (byte)253, (byte)253), Sample(bitmap, layout, 1, 15, 0, 8));   // w = 71/72
        Assert.Equal(((byte)71, (byte)71, (byte)71), Sample(bitmap, layout, 1, 4, 0, 4));       // w = −32/72: 70.83
        // The top panel is the initial weights, on their own scale.
        var before = Pictures.ToHost(Pictures.FirstConv(initial)!.Weight.Value);
        float m = before.Max(Math.Abs);
        for (int f = 0; f < 16; f += 5)
            for (int e = 0; e < 9; e += 4)
            {
                byte grey = (byte)Math.Round(127.5 + 127.5 * before[f * 9 + e] / m, MidpointRounding.AwayFromZero);
                Assert.Equal((grey, grey, grey), Sample(bitmap, layout, 0, f, 0, e));
            }
    }

    [Fact]
    public void The_filter_grid_of_an_rgb_model_has_a_tile_per_channel_and_the_composite()
    {
        var initial = ModelZoo.Create("cifar-small", 3);
        var trained = ModelZoo.Create("cifar-small", 3);
        // Filter 2: red channel +1, green −1, blue 0 → composite (255, 0, 128); every other weight 0.
        SetFirstConv(trained, (f, c, _) => f == 2 ? c switch { 0 => 1f, 1 => -1f, _ => 0f } : 0f);
        string path = Path.Combine(_folder, "filters.png");
        Assert.True(FilterGrid.Write(path, "cifar-small", initial, trained));

        using var bitmap = Decode(path);
        var layout = new FilterGrid.Layout(8, 3, 3);
        Assert.Equal((layout.Width, layout.Height), (bitmap.Width, bitmap.Height));
        Assert.Equal(4, layout.TilesPerFilter);
        for (int e = 0; e < 9; e++)
        {
            Assert.Equal(((byte)255, (byte)255, (byte)255), Sample(bitmap, layout, 1, 2, 0, e));
            Assert.Equal(((byte)0, (byte)0, (byte)0), Sample(bitmap, layout, 1, 2, 1, e));
            Assert.Equal(((byte)128, (byte)128, (byte)128), Sample(bitmap, layout, 1, 2, 2, e));
            Assert.Equal(((byte)255, (byte)0, (byte)128), Sample(bitmap, layout, 1, 2, 3, e));
            Assert.Equal(((byte)128, (byte)128, (byte)128), Sample(bitmap, layout, 1, 5, 3, e));
        }
        Assert.NotEqual(((byte)255, (byte)0, (byte)128), Sample(bitmap, layout, 0, 2, 3, 0));
        Assert.False(FilterGrid.Write(Path.Combine(_folder, "none.png"), "fmnist-mlp", ModelZoo.Create("fmnist-mlp", 1), ModelZoo.Create("fmnist-mlp", 1)));
        Assert.False(File.Exists(Path.Combine(_folder, "none.png")));
    }

    [Theory]
    [InlineData("fmnist-cnn", 28, 2)]
    [InlineData("cifar-small", 32, 5)]
    public void A_cnns_three_pictures_decode_at_their_layouts_size(string modelName, int side, int convolutions)
    {
        var test = modelName.StartsWith("cifar", StringComparison.Ordinal) ? CifarTest.Value : FashionTest.Value;
        var model = ModelZoo.Create(modelName, 11);
        Assert.True(ModelPictures.Write(_folder, modelName, ModelZoo.Create(modelName, 11), model, test));
        Assert.True(model.IsTraining); // the pictures put the model back in the mode they found it in

        using (var filters = Decode(Path.Combine(_folder, $"filters-{modelName}.png")))
        {
            var conv = Pictures.FirstConv(model)!;
            var layout = new FilterGrid.Layout(conv.OutChannels, conv.InChannels, conv.Kernel);
            Assert.Equal((layout.Width, layout.Height), (filters.Width, filters.Height));
        }
        var rows = FeatureMaps.FirstOfEachClass(test);
        Assert.All(rows, r => Assert.True(r >= 0));
        var activations = FeatureMaps.Compute(model, test, rows);
        Assert.Equal(convolutions, activations.Count);
        using (var maps = Decode(Path.Combine(_folder, $"feature-maps-{modelName}.png")))
        {
            var layout = new FeatureMaps.Layout(side, side, 10, activations.Select(a => Math.Min(16, a.Channels)).ToArray());
            Assert.Equal((layout.Width, layout.Height), (maps.Width, maps.Height));
            // Row 3, last layer, channel 1: its top-left pixel drawn 0 black … the map's max white.
            var last = activations[^1];
            int plane = last.Height * last.Width;
            var map = last.Values[3].AsSpan(plane, plane).ToArray();
            var (x, y) = layout.MapOrigin(3, activations.Count - 1, 1);
            byte expected = map.Max() > 0 ? (byte)Math.Round(255.0 * Math.Max(0, map[0]) / map.Max(), MidpointRounding.AwayFromZero) : (byte)0;
            Assert.Equal(expected, maps.GetPixel(x, y).Red);
        }
        using (var confusion = Decode(Path.Combine(_folder, $"confusion-{modelName}.png")))
        {
            var layout = new ConfusionPicture.Layout(10, side, side);
            Assert.Equal((layout.Width, layout.Height), (confusion.Width, confusion.Height));
        }
    }

    [Fact]
    public void Feature_maps_are_the_convolution_and_relu_of_the_image()
    {
        var test = FashionTest.Value;
        var model = ModelZoo.Create("fmnist-cnn", 5);
        var conv = Pictures.FirstConv(model)!;
        var weights = Pictures.ToHost(conv.Weight.Value);
        var bias = Pictures.ToHost(conv.Bias!.Value);
        int[] images = [0, 17];
        var layers = FeatureMaps.Compute(model, test, images);
        Assert.Equal(["conv1", "conv2"], layers.Select(l => l.Layer));
        Assert.Equal((16, 28, 28), (layers[0].Channels, layers[0].Height, layers[0].Width));
        Assert.Equal((32, 14, 14), (layers[1].Channels, layers[1].Height, layers[1].Width));
        // A scalar 3×3 "same" convolution plus ReLU at every position of every channel, edges included.
        int negative = 0;
        for (int n = 0; n < images.Length; n++)
        {
            var image = test.Image(images[n]);
            for (int o = 0; o < 16; o++)
                for (int py = 0; py < 28; py++)
                    for (int px = 0; px < 28; px++)
                    {
                        double sum = bias[o];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int iy = py + ky - 1, ix = px + kx - 1;
                                if (iy is >= 0 and < 28 && ix is >= 0 and < 28) sum += weights[o * 9 + ky * 3 + kx] * image[iy * 28 + ix];
                            }
                        if (sum < -1e-3) negative++;
                        Assert.Equal(Math.Max(0, sum), layers[0].Values[n][o * 784 + py * 28 + px], 4);
                    }
        }
        Assert.True(negative > 100, $"only {negative} negative pre-activations: the ReLU would not be tested");
    }

    [Fact]
    public void The_confusion_matrix_counts_what_a_hand_count_gives()
    {
        byte[] labels = [0, 0, 1, 1, 2, 2, 2, 1];
        int[] predictions = [0, 1, 1, 1, 0, 2, -1, 0];
        var matrix = ConfusionMatrix.Count(labels, predictions, 3);
        Assert.Equal([[1, 1, 0], [1, 2, 0], [1, 0, 1]], matrix);
        Assert.Equal([new ConfusedPair(0, 1, 1), new ConfusedPair(1, 0, 1), new ConfusedPair(2, 0, 1)], ConfusionMatrix.MostConfused(matrix, 5));
        var more = ConfusionMatrix.Count([0, 0, 0, 1, 1, 2], [2, 2, 1, 0, 0, 1], 3);
        Assert.Equal([new ConfusedPair(0, 2, 2), new ConfusedPair(1, 0, 2)], ConfusionMatrix.MostConfused(more, 2));
    }

    [Fact]
    public void The_confusion_picture_agrees_with_the_trainers_evaluation()
    {
        var test = FashionTest.Value;
        var model = ModelZoo.Create("fmnist-cnn", 2);
        using var trainer = new Trainer(model, new TrainingOptions { Seed = 2, Threads = 2, EvaluationBatchSize = 64 });
        var evaluated = trainer.Evaluate(test);
        string path = Path.Combine(_folder, "confusion.png");
        var drawn = ConfusionPicture.Write(path, "fmnist-cnn", model, test);
        Assert.Equal(evaluated.Confusion, drawn);

        using var bitmap = Decode(path);
        var layout = new ConfusionPicture.Layout(10, 28, 28);
        for (int a = 0; a < 10; a++)
            for (int p = 0; p < 10; p++)
            {
                int total = drawn[a].Sum();
                var expected = ConfusionPicture.CellColor(total == 0 ? 0 : (double)drawn[a][p] / total);
                var (x, y) = layout.CellOrigin(a, p);
                Assert.Equal(expected, bitmap.GetPixel(x + 2, y + 2)); // a corner: the count's text is in the middle
            }
        Assert.Equal(new SKColor(255, 255, 255), ConfusionPicture.CellColor(0));
        Assert.Equal(new SKColor(8, 48, 107), ConfusionPicture.CellColor(1));
    }

    [Fact]
    public void The_architecture_diagram_lists_every_layer_with_its_shape_and_parameters()
    {
        var model = ModelZoo.Create("fmnist-cnn", 1);
        string diagram = ArchitectureDiagram.Mermaid(model, ModelZoo.BatchInputShape("fmnist-cnn", 1));
        var lines = diagram.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("flowchart TD", lines[0]);
        Assert.Contains("  input[\"input<br/>(N, 1, 28, 28)\"]", lines);
        // Hand-computed: conv1 1·16·9 + 16 = 160; conv2 16·32·9 + 32 = 4,640; dense1 1568·128 + 128; dense2 128·10 + 10.
        string[] nodes =
        [
            "conv1: Conv2D 3×3, 1→16<br/>(N, 16, 28, 28)<br/>160 params",
            "relu1: ReLU<br/>(N, 16, 28, 28)<br/>0 params",
            "pool1: MaxPool2D 2×2<br/>(N, 16, 14, 14)<br/>0 params",
            "conv2: Conv2D 3×3, 16→32<br/>(N, 32, 14, 14)<br/>4,640 params",
            "relu2: ReLU<br/>(N, 32, 14, 14)<br/>0 params",
            "pool2: MaxPool2D 2×2<br/>(N, 32, 7, 7)<br/>0 params",
            "flatten1: Flatten<br/>(N, 1568)<br/>0 params",
            "dense1: Dense 1568→128<br/>(N, 128)<br/>200,832 params",
            "relu3: ReLU<br/>(N, 128)<br/>0 params",
            "dense2: Dense 128→10<br/>(N, 10)<br/>1,290 params",
        ];
        for (int i = 0; i < nodes.Length; i++)
        {
            Assert.Contains($"  n{i + 1}[\"{nodes[i]}\"]", lines);
            Assert.Contains($"  {(i == 0 ? "input" : $"n{i}")} --> n{i + 1}", lines);
        }
        Assert.Equal(1 + 1 + 2 * nodes.Length, lines.Length);

        var cifar = ModelZoo.Create("cifar-small", 1);
        string big = ArchitectureDiagram.Mermaid(cifar, ModelZoo.BatchInputShape("cifar-small", 1));
        Assert.Contains("conv5: Conv2D 3×3, 16→32<br/>(N, 32, 8, 8)<br/>4,640 params", big);
        Assert.Contains("gap1: GlobalAvgPool2D<br/>(N, 32)<br/>0 params", big);
        Assert.Contains("dropout1: Dropout 0.3<br/>(N, 128)<br/>0 params", big);
        long sum = System.Text.RegularExpressions.Regex.Matches(big, @"<br/>([\d,]+) params").Sum(m => long.Parse(m.Groups[1].Value.Replace(",", "")));
        Assert.Equal(cifar.ParameterCount, sum);
    }
}
