using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Layers.Formats;
using NativeConv.Tests.Serving;

namespace NativeConv.Tests.Formats;

/// <summary>
/// `export --format safetensors-torch`: the names and shapes of the PyTorch twin's state_dict (asked from the twin itself
/// through tools/check_torch_export.py --names when /usr/bin/python3 has torch; skipped otherwise), the Dense transpose,
/// and the trained CNN loaded strictly into the twin, classifying like our evaluation.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the trained CNN comes from the Trainer (Engine.Threads)
public sealed class TorchExportTests : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private static readonly Lazy<string?> s_torchMissing = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} is not installed";
        var (code, _, error) = RunPython(["-c", "import torch, numpy"]);
        return code == 0 ? null : $"{Python} has no torch/numpy (apt-get install python3-torch): {error.Trim().Split('\n')[^1]}";
    });

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-torch-" + Guid.NewGuid().ToString("N"));

    public TorchExportTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Tool => Path.Combine(RepositoryRoot(), "tools", "check_torch_export.py");

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NativeConv.sln"))) return d.FullName;
        throw new InvalidOperationException("NativeConv.sln not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Output, string Error) RunPython(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Python} {string.Join(' ', start.ArgumentList)} did not finish in 3 minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    private static void RequireTorch()
    {
        if (s_torchMissing.Value is { } reason) Assert.Skip(reason);
    }

    public static TheoryData<string> StudyModels() => new(ModelZoo.Names);

    [Theory]
    [MemberData(nameof(StudyModels))]
    public void TheNamesAndShapesAreTheTwinsStateDict(string name)
    {
        RequireTorch();
        var (code, output, error) = RunPython([Tool, "--names", name]);
        Assert.True(code == 0, error);
        var twin = JsonSerializer.Deserialize<JsonElement[][]>(output)!
            .Select(e => (e[0].GetString()!, string.Join(",", e[1].EnumerateArray().Select(d => d.GetInt32())))).ToArray();
        var ours = TorchStateDict.From(ModelZoo.Create(name, seed: 1)).Select(t => (t.Name, string.Join(",", t.Shape))).ToArray();
        Assert.Equal(twin, ours);
    }

    [Fact]
    public void DenseWeightsAreTransposedToOutByIn()
    {
        var model = ModelZoo.Create("fmnist-mlp", seed: 4);
        var dense = (Dense)((Sequential)model).Layers[1];
        var ours = dense.Weight.Value.ToArray(); // (784, 128)
        var exported = TorchStateDict.From(model).Single(t => t.Name == "1.weight");
        Assert.Equal([128, 784], exported.Shape);
        for (int i = 0; i < 784; i += 97)
            for (int o = 0; o < 128; o += 13)
                Assert.Equal(ours[i * 128 + o], exported.Data[o * 784 + i]);
    }

    [Fact]
    public void TheTrainedCnnLoadsStrictlyIntoTheTwinAndClassifiesLikeOurEvaluation()
    {
        RequireTorch();
        var trained = TrainedFashionCnn.Instance;
        string file = Path.Combine(_folder, "fmnist-cnn.safetensors");
        var (code, _, error) = NativeConv.Tests.Support.Cli.Run(["export", "--checkpoint", trained.CheckpointPath, "--format", "safetensors-torch", "--out", file]);
        Assert.True(code == 0, error);

        const int count = 1000;
        (code, var output, error) = RunPython([Tool, file, "--limit", count.ToString(CultureInfo.InvariantCulture), "--data-dir", NativeConv.Tests.Data.RealData.Locator.Root]);
        Assert.True(code == 0, error);
        Assert.Contains("strict load_state_dict: ok", output);
        string line = output.Split('\n').Single(l => l.StartsWith("accuracy: "));
        double torchAccuracy = double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);

        var logits = TrainedFashionCnn.ReferenceLogits(trained.Model, trained.Test, 0, count);
        int correct = 0;
        for (int i = 0; i < count; i++)
            if (TrainedModel.ArgMax(logits.AsSpan(i * 10, 10)) == trained.Test.Labels[i]) correct++;
        // The same weights and images; only float32 summation order differs, which can flip at most a near-tie.
        Assert.True(Math.Abs(torchAccuracy - correct / (double)count) <= 0.002, $"torch {torchAccuracy:F4} vs ours {correct / (double)count:F4}");
    }

    [Fact]
    public void TheExportIsASafetensorsFileTheLoaderRefusesAsNotOurs()
    {
        // It holds the twin's names under "format": "pt": feeding it back to predict/serve must fail clearly.
        string weights = Path.Combine(_folder, "w.safetensors");
        Checkpoint.SaveWeights(weights, ModelZoo.Create("cifar-small", seed: 2));
        string file = Path.Combine(_folder, "torch.safetensors");
        NativeConv.Experiments.Commands.ExportCommand.WriteTorch(TrainedModel.Open(weights), file);
        var read = SafeTensorsFile.Load(file);
        Assert.Equal("pt", read.Metadata["format"]);
        Assert.Equal("cifar-small", read.Metadata["model"]);
        Assert.True(read.Contains("17.weight"));
        var e = Assert.Throws<TrainedModelException>(() => TrainedModel.Open(file));
        Assert.Contains("metadata format is 'pt'", e.Message);
    }
}
