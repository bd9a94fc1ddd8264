using System.Text.Json;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tests.Data;
using SkiaSharp;

namespace NativeConv.Tests.Serving;

/// <summary>`predict` through the real command line: images written from the test set get the class our evaluation gives.</summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the trained CNN comes from the Trainer (Engine.Threads)
public sealed class PredictCommandTests : IClassFixture<Cifar10Fixture>, IDisposable
{
    private readonly NativeConv.Experiments.Data.Dataset _cifar;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-predict-" + Guid.NewGuid().ToString("N"));

    public PredictCommandTests(Cifar10Fixture cifar)
    {
        _cifar = cifar.Test;
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args) => NativeConv.Tests.Support.Cli.Run(args);

    /// <summary>The classes our evaluation gives test images [0, count): the argmax of the model's own forward.</summary>
    private static int[] EvaluationClasses(Module model, NativeConv.Experiments.Data.Dataset data, int count) =>
        EvaluationClasses(model, data, count, out _);

    /// <inheritdoc cref="EvaluationClasses(Module, NativeConv.Experiments.Data.Dataset, int)"/>
    /// <param name="margins">Per image, the largest logit minus the second largest.</param>
    private static int[] EvaluationClasses(Module model, NativeConv.Experiments.Data.Dataset data, int count, out float[] margins)
    {
        var logits = TrainedFashionCnn.ReferenceLogits(model, data, 0, count);
        margins = new float[count];
        var classes = new int[count];
        for (int i = 0; i < count; i++)
        {
            var row = logits.AsSpan(i * 10, 10);
            classes[i] = TrainedModel.ArgMax(row);
            float second = float.NegativeInfinity;
            for (int k = 0; k < 10; k++) if (k != classes[i]) second = Math.Max(second, row[k]);
            margins[i] = row[classes[i]] - second;
        }
        return classes;
    }

    /// <summary>
    /// JPEG (quality 95) moves pixels by up to ~0.035 (see ImageInputTests), which can flip a near-tie of the briefly
    /// trained test model: for JPEG the class must match wherever our evaluation's top logit leads by more than this.
    /// PNG is lossless and must match everywhere.
    /// </summary>
    private const float JpegDecisiveMargin = 0.5f;

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "png")]
    [InlineData(SKEncodedImageFormat.Jpeg, "jpg")]
    public void FashionImagesWrittenFromTheTestSetGetTheClassOurEvaluationGives(SKEncodedImageFormat format, string extension)
    {
        var trained = TrainedFashionCnn.Instance;
        const int count = 100;
        string directory = Path.Combine(_folder, extension);
        Directory.CreateDirectory(directory);
        for (int i = 0; i < count; i++)
            File.WriteAllBytes(Path.Combine(directory, $"test-{i:D4}.{extension}"), TestImages.Encode(trained.Test.Image(i), 1, 28, 28, format, quality: 95));
        File.WriteAllText(Path.Combine(directory, "notes.txt"), "not an image: skipped by the directory scan");

        var (code, output, error) = Run("predict", "--checkpoint", trained.CheckpointPath, "--json", "--batch", "16", directory);
        Assert.True(code == 0, error);
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement;
        Assert.Equal("fmnist-cnn", root.GetProperty("model").GetString());
        var results = root.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(count, results.Length);
        Assert.Empty(root.GetProperty("errors").EnumerateArray());

        var expected = EvaluationClasses(trained.Model, trained.Test, count, out var margins);
        int agreeing = 0, decisive = 0;
        for (int i = 0; i < count; i++)
        {
            Assert.EndsWith($"test-{i:D4}.{extension}", results[i].GetProperty("image").GetString());
            Assert.False(results[i].GetProperty("inverted").GetBoolean());
            var predictions = results[i].GetProperty("predictions").EnumerateArray().ToArray();
            Assert.Equal(3, predictions.Length);
            int predicted = predictions[0].GetProperty("index").GetInt32();
            Assert.Equal(NativeConv.Experiments.Data.FashionMnist.ClassNames[predicted], predictions[0].GetProperty("label").GetString());
            if (predicted == expected[i]) agreeing++;
            if (format == SKEncodedImageFormat.Png || margins[i] > JpegDecisiveMargin)
            {
                decisive++;
                Assert.True(expected[i] == predicted, $"image {i} ({extension}): class {predicted} instead of {expected[i]} (margin {margins[i]:F2})");
            }
            var p = predictions.Select(x => x.GetProperty("probability").GetSingle()).ToArray();
            Assert.True(p[0] >= p[1] && p[1] >= p[2], "sorted by probability, descending");
        }
        Assert.True(decisive >= count / 2, $"only {decisive} of {count} images were checked");
        Assert.True(agreeing >= count * 95 / 100, $"{agreeing} of {count} agree");
    }

    [Fact]
    public void CifarPngsGetTheClassOfTheModelsOwnForward()
    {
        var model = ModelZoo.Create("cifar-small", seed: 8);
        model.Eval(); // its dropout off, as predict runs it
        string weights = Path.Combine(_folder, "cifar-small.safetensors");
        Checkpoint.SaveWeights(weights, model);
        const int count = 20;
        var files = new string[count];
        for (int i = 0; i < count; i++)
        {
            files[i] = Path.Combine(_folder, $"cifar-{i:D2}.png");
            File.WriteAllBytes(files[i], TestImages.Encode(_cifar.Image(i), 3, 32, 32, SKEncodedImageFormat.Png));
        }
        var (code, output, error) = Run(["predict", "--checkpoint", weights, "--json", "--top", "10", .. files]);
        Assert.True(code == 0, error);
        var results = JsonDocument.Parse(output).RootElement.GetProperty("results").EnumerateArray().ToArray();
        var expected = EvaluationClasses(model, _cifar, count);
        for (int i = 0; i < count; i++)
        {
            var predictions = results[i].GetProperty("predictions").EnumerateArray().ToArray();
            Assert.Equal(10, predictions.Length);
            Assert.Equal(expected[i], predictions[0].GetProperty("index").GetInt32());
            Assert.Equal(1.0, predictions.Sum(x => x.GetProperty("probability").GetDouble()), 1e-5);
        }
    }

    [Fact]
    public void TheTableShowsTheTopThreeAndABadFileIsReportedByNameWithExitCodeOne()
    {
        var trained = TrainedFashionCnn.Instance;
        string good = Path.Combine(_folder, "coat.png");
        File.WriteAllBytes(good, TestImages.Encode(trained.Test.Image(0), 1, 28, 28, SKEncodedImageFormat.Png));
        string negative = Path.Combine(_folder, "on-paper.bmp");
        File.WriteAllBytes(negative, TestImages.Bmp(trained.Test.Image(0).ToArray().Select(v => 1f - v).ToArray(), 1, 28, 28));
        string bad = Path.Combine(_folder, "broken.png");
        File.WriteAllText(bad, "not a png");
        string absent = Path.Combine(_folder, "absent.jpg");

        var (code, output, error) = Run("predict", "--checkpoint", trained.CheckpointPath, good, bad, negative, absent);
        Assert.Equal(1, code);
        Assert.Contains("fmnist-cnn (fashion-mnist, 206,922 parameters)", output);
        Assert.Contains("coat.png", output);
        Assert.Contains("28×28 BMP, inverted", output);
        Assert.Contains("#3", output);
        string label = NativeConv.Experiments.Data.FashionMnist.ClassNames[EvaluationClasses(trained.Model, trained.Test, 1)[0]];
        Assert.Contains(label, output);
        var errors = error.TrimEnd().Split('\n');
        Assert.Equal(2, errors.Length);
        Assert.Contains(errors, e => e.StartsWith($"error: Image '{absent}': no such file or directory."));
        Assert.Contains(errors, e => e.StartsWith($"error: Image '{bad}': not a PNG, JPEG or BMP image"));
    }

    [Fact]
    public void ABadCheckpointIsOneLineAndExitCodeOne()
    {
        string image = Path.Combine(_folder, "x.png");
        File.WriteAllBytes(image, TestImages.Encode(_cifar.Image(0), 3, 32, 32, SKEncodedImageFormat.Png));
        var (code, _, error) = Run("predict", "--checkpoint", Path.Combine(_folder, "none.safetensors"), image);
        Assert.Equal(1, code);
        Assert.Contains("does not exist", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void TopClassesAreSortedWithTheLowerIndexFirstOnTies()
    {
        var top = NativeConv.Experiments.Commands.PredictCommand.TopClasses([0.1f, 0.4f, 0.1f, 0.4f], 3);
        Assert.Equal([(1, 0.4f), (3, 0.4f), (0, 0.1f)], top);
    }
}
