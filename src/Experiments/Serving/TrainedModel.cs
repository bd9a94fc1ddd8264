using System.Text.Json;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// A checkpoint that cannot be used as a trained model: not a safetensors file, truncated, not written by NativeConv, of a
/// model the zoo does not know, of another model than the one asked for, or with a tensor that does not match its digest.
/// One line: the file and what was expected. An <see cref="IOException"/> (a problem with a file), so the CLI prints it as
/// "error: ..." (exit code 1) without a stack trace.
/// </summary>
public sealed class TrainedModelException : IOException
{
    public TrainedModelException(string filePath, string problem, Exception? inner = null)
        : base($"Checkpoint '{filePath}': {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>
/// A trained model read back for inference: the zoo model named in a checkpoint's metadata, with the checkpoint's best
/// weights (a training checkpoint keeps them under "best/"; a plain weights file has only its own), in eval mode.
/// <see cref="Classify"/> and <see cref="Logits"/> take images as NCHW floats scaled to [0,1] (pixel / 255, no
/// standardisation, as in training; see <see cref="ImageInput"/> to make them from image files).
/// Calls are serialised by a lock: one forward runs at a time, on the calling thread's tape, which is reset after each
/// batch (do not call it inside a training step).
/// </summary>
public sealed class TrainedModel
{
    /// <summary>CIFAR-10's class names in label order, as the dataset's batches.meta.txt lists them.</summary>
    public static readonly string[] Cifar10ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Images per forward: a larger count is classified in batches of this size (bounds the activations' memory).</summary>
    public const int MaxBatch = 256;

    private readonly Lock _gate = new();

    private TrainedModel(string path, Module model, string dataset, IReadOnlyList<string> classNames, double? testAccuracy,
        bool bestWeights, IReadOnlyDictionary<string, string> metadata)
    {
        CheckpointPath = path;
        Model = model;
        Name = model.Name;
        var shape = ModelZoo.InputShape(model.Name);
        InputShape = (shape[0], shape[1], shape[2]);
        Dataset = dataset;
        ClassNames = classNames;
        TestAccuracy = testAccuracy;
        FromBestWeights = bestWeights;
        Metadata = metadata;
    }

    /// <summary>The zoo name of the model ("fmnist-cnn").</summary>
    public string Name { get; }

    /// <summary>The model, in eval mode, holding the checkpoint's best weights.</summary>
    public Module Model { get; }

    /// <summary>The checkpoint's full path.</summary>
    public string CheckpointPath { get; }

    /// <summary>One image's shape, (C, H, W).</summary>
    public (int C, int H, int W) InputShape { get; }

    /// <summary>Floats per image: C × H × W.</summary>
    public int SampleSize => InputShape.C * InputShape.H * InputShape.W;

    /// <summary>"fashion-mnist" or "cifar-10" (see <see cref="DatasetCatalog"/>).</summary>
    public string Dataset { get; }

    /// <summary>Class names in label (logit) order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    public int ClassCount => ClassNames.Count;

    public long ParameterCount => Model.ParameterCount;

    /// <summary>The test accuracy (0..1) the run recorded for this model, when its result.json / results.json lies beside or above the checkpoint; else null.</summary>
    public double? TestAccuracy { get; }

    /// <summary>True when the weights came from a training checkpoint's "best/" tensors, false for a plain weights file.</summary>
    public bool FromBestWeights { get; }

    /// <summary>The checkpoint's metadata, as written.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Reads <paramref name="checkpointPath"/> (a checkpoint.safetensors of any study, or a file of
    /// <see cref="Checkpoint.SaveWeights"/>), checks every tensor's digest, builds the model its metadata names and loads the
    /// best weights. <paramref name="expectedModel"/> (e.g. from --model): refuse a checkpoint of any other model.
    /// Throws <see cref="TrainedModelException"/> for every problem with the file.
    /// </summary>
    public static TrainedModel Open(string checkpointPath, string? expectedModel = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        string path = Path.GetFullPath(checkpointPath);
        if (expectedModel is not null && !ModelZoo.Contains(expectedModel))
            throw new ArgumentException(ModelZoo.UnknownModelMessage(expectedModel));

        SafeTensorsFile file;
        try
        {
            file = SafeTensorsFile.Load(path);
        }
        catch (CheckpointFormatException e)
        {
            throw new TrainedModelException(path, $"not a readable safetensors checkpoint: {e.Problem}", e);
        }

        var m = file.Metadata;
        const string expected = "expected a checkpoint.safetensors written by a NativeConv study (or Checkpoint.SaveWeights)";
        if (!m.TryGetValue(Checkpoint.Keys.Format, out var format) || format != Checkpoint.FormatName)
            throw new TrainedModelException(path, format is null
                ? $"a safetensors file without NativeConv metadata ('{Checkpoint.Keys.Format}' is missing); {expected}."
                : $"its metadata format is '{format}', not '{Checkpoint.FormatName}'; {expected}.");
        if (!m.TryGetValue(Checkpoint.Keys.Version, out var version) || !Checkpoint.ReadableVersions.Contains(version))
            throw new TrainedModelException(path, $"format version '{version ?? "(missing)"}' is not one this program reads ({string.Join(", ", Checkpoint.ReadableVersions)}).");
        if (!m.TryGetValue(Checkpoint.Keys.Model, out var modelName) || modelName.Length == 0)
            throw new TrainedModelException(path, $"metadata '{Checkpoint.Keys.Model}' is missing: the file does not say which model it holds.");
        if (!ModelZoo.Contains(modelName))
            throw new TrainedModelException(path, $"it holds model '{modelName}', which this program does not know (expected one of: {string.Join(", ", ModelZoo.Names)}).");
        if (expectedModel is not null && !string.Equals(modelName, expectedModel, StringComparison.OrdinalIgnoreCase))
            throw new TrainedModelException(path, $"it holds model '{modelName}', not '{expectedModel}' as --model asks.");
        m.TryGetValue(Checkpoint.Keys.Kind, out var kind);
        bool best = kind switch
        {
            "training" => true,
            "weights" => false,
            _ => throw new TrainedModelException(path, $"metadata '{Checkpoint.Keys.Kind}' is '{kind ?? "(missing)"}'; expected 'training' or 'weights'."),
        };

        var model = ModelZoo.Create(modelName, seed: 0);
        try
        {
            Checkpoint.VerifyDigests(file, path);
            Checkpoint.CopyParameters(file, path, model.Parameters(), best ? Checkpoint.BestPrefix : "");
        }
        catch (CheckpointFormatException e)
        {
            throw new TrainedModelException(path, e.Problem, e);
        }
        model.Eval();

        string dataset = DatasetOf(model.Name);
        string[] classes = dataset == DatasetCatalog.FashionMnistName ? FashionMnist.ClassNames : Cifar10ClassNames;
        return new TrainedModel(path, model, dataset, classes, FindTestAccuracy(path, model.Name), best,
            new Dictionary<string, string>(m, StringComparer.Ordinal));
    }

    /// <summary>The dataset a zoo model was built for, from its 1-channel 28×28 or 3-channel 32×32 input.</summary>
    public static string DatasetOf(string modelName) =>
        ModelZoo.InputShape(modelName)[0] == 1 ? DatasetCatalog.FashionMnistName : DatasetCatalog.Cifar10Name;

    /// <summary>
    /// Softmax probabilities of <paramref name="count"/> images (NCHW, <see cref="SampleSize"/> floats each) into
    /// <paramref name="probabilities"/> (count × <see cref="ClassCount"/>, row per image).
    /// </summary>
    public void Classify(ReadOnlySpan<float> images, int count, Span<float> probabilities)
    {
        Logits(images, count, probabilities);
        for (int i = 0; i < count; i++) SoftmaxInPlace(probabilities.Slice(i * ClassCount, ClassCount));
    }

    /// <summary>The model's logits for <paramref name="count"/> images into <paramref name="logits"/> (count × <see cref="ClassCount"/>).</summary>
    public void Logits(ReadOnlySpan<float> images, int count, Span<float> logits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (images.Length != (long)count * SampleSize)
            throw new ArgumentException($"{Name}: {images.Length} floats are not {count} images of {InputShape} = {(long)count * SampleSize} floats.", nameof(images));
        if (logits.Length != (long)count * ClassCount)
            throw new ArgumentException($"{Name}: the output holds {logits.Length} floats; {count} images need {(long)count * ClassCount}.", nameof(logits));
        lock (_gate)
        {
            for (int start = 0; start < count; start += MaxBatch)
            {
                int n = Math.Min(MaxBatch, count - start);
                Forward(images.Slice(start * SampleSize, n * SampleSize), n, logits.Slice(start * ClassCount, n * ClassCount));
            }
        }
    }

    /// <summary>Index of the largest value (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Numerically stable softmax of one row (the maximum subtracted first).</summary>
    public static void SoftmaxInPlace(Span<float> row)
    {
        if (row.Length == 0) return;
        float max = row[0];
        foreach (float v in row) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = MathF.Exp(row[i] - max);
            sum += row[i];
        }
        float inverse = (float)(1.0 / sum);
        for (int i = 0; i < row.Length; i++) row[i] *= inverse;
    }

    /// <summary>
    /// The one forward of this class: a batch in, its logits out, no tape recorded. (The place where an inference session
    /// that reuses its buffers will replace the per-call tensors.)
    /// </summary>
    private void Forward(ReadOnlySpan<float> batch, int n, Span<float> logits)
    {
        var tape = Tape.Current;
        using var input = Tensor.FromSpan(batch, new Shape(n, InputShape.C, InputShape.H, InputShape.W), Model.Backend);
        try
        {
            using (Tape.NoGrad())
            {
                var output = Model.Forward(input);
                output.CopyTo(logits);
            }
        }
        finally
        {
            tape.Reset();
        }
    }

    // ---------------------------------------------------------------- the run's recorded accuracy

    /// <summary>
    /// The test accuracy recorded beside the checkpoint: the unit's result.json in the same folder (a study's
    /// models/&lt;model&gt;-seed&lt;seed&gt;/), else the first results.json in that folder or up to three folders above it whose
    /// models list has an entry of this model's name with a test evaluation. Null when none is found or readable (the
    /// accuracy is informative; an unreadable results file does not stop the model from loading).
    /// </summary>
    internal static double? FindTestAccuracy(string checkpointPath, string modelName)
    {
        var folder = new DirectoryInfo(Path.GetDirectoryName(checkpointPath)!);
        if (ReadJson(Path.Combine(folder.FullName, "result.json")) is { } unit)
        {
            var result = unit.TryGetProperty("result", out var wrapped) ? wrapped : unit;
            if (IsModel(result, modelName) && TestAccuracyOf(result) is { } accuracy) return accuracy;
        }
        for (int up = 0; up <= 3 && folder is not null; up++, folder = folder.Parent)
        {
            if (ReadJson(Path.Combine(folder.FullName, "results.json")) is not { } run) continue;
            if (!run.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Array) continue;
            foreach (var entry in models.EnumerateArray())
                if (IsModel(entry, modelName) && TestAccuracyOf(entry) is { } accuracy) return accuracy;
        }
        return null;

        static bool IsModel(JsonElement result, string name) =>
            result.ValueKind == JsonValueKind.Object && result.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
            && string.Equals(n.GetString(), name, StringComparison.OrdinalIgnoreCase);

        static double? TestAccuracyOf(JsonElement result) =>
            result.TryGetProperty("test", out var test) && test.ValueKind == JsonValueKind.Object
            && test.TryGetProperty("accuracy", out var a) && a.ValueKind == JsonValueKind.Number
            && a.TryGetDouble(out double value) && double.IsFinite(value) ? value : null;
    }

    private static JsonElement? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.Clone();
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
