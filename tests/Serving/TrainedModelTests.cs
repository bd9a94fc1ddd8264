using NativeConv.Tests.Support;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tensors;

namespace NativeConv.Tests.Serving;

/// <summary>Loading a trained model: the same logits as the model it came from, the run's accuracy, and a one-line error for every bad file.</summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the shared trained model runs the Trainer (Engine.Threads)
public sealed class TrainedModelTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-trained-model-" + Guid.NewGuid().ToString("N"));

    public TrainedModelTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ATrainingCheckpointGivesTheLogitsOfTheModelItCameFrom()
    {
        var trained = TrainedFashionCnn.Instance;
        var loaded = TrainedModel.Open(trained.CheckpointPath);

        Assert.Equal("fmnist-cnn", loaded.Name);
        Assert.Equal((1, 28, 28), loaded.InputShape);
        Assert.Equal("fashion-mnist", loaded.Dataset);
        Assert.Equal(FashionMnist.ClassNames, loaded.ClassNames);
        Assert.Equal(trained.Model.ParameterCount, loaded.ParameterCount);
        Assert.True(loaded.FromBestWeights);
        Assert.False(loaded.Model.IsTraining);
        Assert.Null(loaded.TestAccuracy); // no result.json yet

        // The weights are the file's best/ tensors.
        var file = SafeTensorsFile.Load(trained.CheckpointPath);
        foreach (var p in loaded.Model.Parameters())
        {
            Assert.True(file.TryGet(Checkpoint.BestPrefix + p.Name, out var best));
            Assert.Equal(best.Data, p.Value.ToArray());
        }

        const int start = 100, count = 300; // more than one MaxBatch (256), so the split into batches is covered
        var expected = TrainedFashionCnn.ReferenceLogits(trained.Model, trained.Test, start, count);
        var logits = new float[count * 10];
        loaded.Logits(trained.Test.Images.AsSpan(start * 784, count * 784), count, logits);
        // The same weights (checked bit for bit above) through the inference plan, which may run a layer with another
        // algorithm than training's forward (Winograd for im2col): equal up to rounding.
        LogitTolerance.WithinRounding(expected, logits, "the loaded checkpoint against the training forward");

        var probabilities = new float[count * 10];
        loaded.Classify(trained.Test.Images.AsSpan(start * 784, count * 784), count, probabilities);
        for (int i = 0; i < count; i++)
        {
            var row = probabilities.AsSpan(i * 10, 10);
            float sum = 0;
            foreach (float p in row) { Assert.InRange(p, 0f, 1f); sum += p; }
            Assert.Equal(1f, sum, 1e-5f);
            Assert.Equal(TrainedModel.ArgMax(expected.AsSpan(i * 10, 10)), TrainedModel.ArgMax(row));
        }
    }

    [Fact]
    public void APlainWeightsFileLoadsItsOwnWeights()
    {
        var model = ModelZoo.Create("cifar-small", seed: 7);
        string path = Path.Combine(_folder, "weights.safetensors");
        Checkpoint.SaveWeights(path, model);
        var loaded = TrainedModel.Open(path, expectedModel: "CIFAR-SMALL");
        Assert.False(loaded.FromBestWeights);
        Assert.Equal("cifar-10", loaded.Dataset);
        Assert.Equal("truck", loaded.ClassNames[9]);
        Assert.Equal((3, 32, 32), loaded.InputShape);

        var random = new Random(3);
        var images = new float[5 * 3 * 32 * 32];
        for (int i = 0; i < images.Length; i++) images[i] = random.NextSingle();
        model.Eval();
        var expected = new float[50];
        using (var input = Tensor.FromArray(images, new Shape(5, 3, 32, 32)))
        using (NativeConv.Tensors.Autograd.Tape.NoGrad())
            model.Forward(input).CopyTo(expected);
        NativeConv.Tensors.Autograd.Tape.Current.Reset();
        var logits = new float[50];
        loaded.Logits(images, 5, logits);
        LogitTolerance.WithinRounding(expected, logits, "the loaded weights against the training forward");
        // Bit for bit what the original model's own inference program computes: the loaded weights are the saved ones.
        Assert.Equal(NativeConv.Layers.Inference.InferenceSession.ForZooModel(model).Run(images, 5), logits);
    }

    [Fact]
    public void ATrainingCheckpointLoadsTheBestWeightsNotTheLatest()
    {
        // A training checkpoint whose latest weights (seed 1) differ from its best ones (seed 2).
        var latest = ModelZoo.Create("fmnist-mlp", seed: 1);
        var best = ModelZoo.Create("fmnist-mlp", seed: 2);
        var bestValues = best.Parameters().Select(p => p.Value).ToList();
        string path = Path.Combine(_folder, "training.safetensors");
        Checkpoint.SaveTraining(path, latest, new NativeConv.Layers.Optim.Adam(latest.Parameters()), bestValues,
            new TrainerState(), new TrainingOptions(), trainCount: 10, validationCount: 0);

        var loaded = TrainedModel.Open(path);
        Assert.True(loaded.FromBestWeights);
        var parameters = loaded.Model.Parameters();
        for (int i = 0; i < parameters.Count; i++)
            Assert.Equal(bestValues[i].ToArray(), parameters[i].Value.ToArray());
    }

    [Fact]
    public void TheTestAccuracyComesFromTheUnitsResultOrTheRunsResults()
    {
        string unit = Path.Combine(_folder, "run", "models", "fmnist-mlp-seed1");
        Directory.CreateDirectory(unit);
        string path = Path.Combine(unit, "checkpoint.safetensors");
        Checkpoint.SaveWeights(path, ModelZoo.Create("fmnist-mlp", seed: 1));
        Assert.Null(TrainedModel.Open(path).TestAccuracy);

        // results.json of the run, two folders up; another model's entry comes first.
        File.WriteAllText(Path.Combine(_folder, "run", "results.json"),
            """{"study": "fmnist", "models": [{"name": "fmnist-cnn", "test": {"accuracy": 0.5}}, {"name": "fmnist-mlp", "test": {"accuracy": 0.875}}]}""");
        Assert.Equal(0.875, TrainedModel.Open(path).TestAccuracy);

        // The unit's own result.json (as StudyFolder.WriteResult writes it) wins.
        File.WriteAllText(Path.Combine(unit, "result.json"),
            """{"format": "nativeconv-result", "sha256": "x", "result": {"name": "fmnist-mlp", "test": {"accuracy": 0.75}}}""");
        Assert.Equal(0.75, TrainedModel.Open(path).TestAccuracy);

        // An unreadable results file is no error: the accuracy is unknown.
        File.WriteAllText(Path.Combine(unit, "result.json"), "{ not json");
        File.WriteAllText(Path.Combine(_folder, "run", "results.json"), "[1, 2");
        Assert.Null(TrainedModel.Open(path).TestAccuracy);
    }

    // ---------------------------------------------------------------- bad files

    private string ValidWeights(string model = "fmnist-mlp")
    {
        string path = Path.Combine(_folder, $"{model}-{Guid.NewGuid():N}.safetensors");
        Checkpoint.SaveWeights(path, ModelZoo.Create(model, seed: 2));
        return path;
    }

    private static string OneLineError(string path, string? expectedModel = null)
    {
        var e = Assert.Throws<TrainedModelException>(() => TrainedModel.Open(path, expectedModel));
        Assert.StartsWith($"Checkpoint '{Path.GetFullPath(path)}': ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(Path.GetFullPath(path), e.FilePath);
        return e.Problem;
    }

    [Fact]
    public void AFileThatIsNotSafetensorsIsRefused()
    {
        string path = Path.Combine(_folder, "picture.png");
        File.WriteAllBytes(path, "\u0089PNG\r\n\u001a\n not a checkpoint at all"u8.ToArray());
        Assert.Contains("not a readable safetensors checkpoint", OneLineError(path));
    }

    [Fact]
    public void AMissingFileIsRefused() =>
        Assert.Contains("does not exist", OneLineError(Path.Combine(_folder, "nothing.safetensors")));

    [Fact]
    public void ATruncatedFileIsRefused()
    {
        string path = ValidWeights();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^100]);
        string problem = OneLineError(path);
        Assert.Contains("not a readable safetensors checkpoint", problem);
        Assert.Contains("truncated", problem);
    }

    [Fact]
    public void ASafetensorsFileNotWrittenByNativeConvIsRefused()
    {
        var file = new SafeTensorsFile();
        file.Add("0.weight", [2, 2], [1, 2, 3, 4]);
        string path = Path.Combine(_folder, "torch.safetensors");
        file.Save(path);
        Assert.Contains("without NativeConv metadata", OneLineError(path));

        file.Metadata["format"] = "pt";
        file.Save(path);
        Assert.Contains("metadata format is 'pt', not 'nativeconv-checkpoint'", OneLineError(path));
    }

    [Fact]
    public void AnUnknownModelIsRefused()
    {
        var file = new SafeTensorsFile();
        file.Add("conv1.weight", [1], [1]);
        file.Metadata["format"] = Checkpoint.FormatName;
        file.Metadata["format_version"] = Checkpoint.FormatVersion;
        file.Metadata["kind"] = "weights";
        file.Metadata["model"] = "resnet-50";
        string path = Path.Combine(_folder, "resnet.safetensors");
        file.Save(path);
        string problem = OneLineError(path);
        Assert.Contains("model 'resnet-50', which this program does not know", problem);
        Assert.Contains("fmnist-cnn", problem);
    }

    [Fact]
    public void AModelOtherThanTheOneAskedForIsRefused() =>
        Assert.Contains("holds model 'fmnist-mlp', not 'cifar-big'", OneLineError(ValidWeights(), expectedModel: "cifar-big"));

    [Fact]
    public void AnUnknownExpectedModelIsAUsageError() =>
        Assert.Contains("Unknown model 'lenet'", Assert.Throws<ArgumentException>(() => TrainedModel.Open(ValidWeights(), "lenet")).Message);

    [Fact]
    public void AWeightThatDoesNotMatchItsDigestIsRefused()
    {
        string path = ValidWeights();
        var bytes = File.ReadAllBytes(path);
        bytes[^7] ^= 0x10; // a bit of the last tensor's data
        File.WriteAllBytes(path, bytes);
        string problem = OneLineError(path);
        Assert.Contains("does not match its SHA-256", problem);
    }

    [Fact]
    public void AWeightOfTheWrongShapeIsRefused()
    {
        // A file that claims to hold fmnist-cnn but holds fmnist-mlp's tensors.
        string path = Path.Combine(_folder, "claims-cnn.safetensors");
        Checkpoint.SaveWeights(path, ModelZoo.Create("fmnist-mlp", seed: 2), new Dictionary<string, string> { ["model"] = "fmnist-cnn" });
        Assert.Contains("is missing; was the checkpoint written for another model?", OneLineError(path));
    }

    [Fact]
    public void InputsOfTheWrongSizeAreRefused()
    {
        var loaded = TrainedModel.Open(ValidWeights());
        Assert.Throws<ArgumentException>(() => loaded.Logits(new float[783], 1, new float[10]));
        Assert.Throws<ArgumentException>(() => loaded.Logits(new float[784], 1, new float[9]));
    }
}
