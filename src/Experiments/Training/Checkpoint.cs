using System.Globalization;
using System.Text.Json;
using NativeConv.Layers;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;

namespace NativeConv.Experiments.Training;

/// <summary>
/// Checkpoints in the safetensors format (see <see cref="SafeTensorsFile"/>):
/// <list type="bullet">
/// <item>the model's parameters under their own names ("conv1.weight", ...), in the layouts the layers store them, so the
///   file is also a plain weights file (<see cref="LoadWeights"/>);</item>
/// <item>a training checkpoint adds the optimiser's state tensors as "optimizer/NAME" (e.g. "optimizer/conv1.weight.m"), the
///   best-so-far weights as "best/NAME", and metadata: the optimiser's step count, the trainer state (epoch, early-stopping
///   counter, best validation loss, history, position inside an interrupted epoch) as JSON, the dropout call counters, the
///   options and the data sizes, so a resumed run continues exactly where the interrupted one stopped.</item>
/// </list>
/// Every write is atomic (temporary file, fsync, rename); every read is validated and throws
/// <see cref="CheckpointFormatException"/> naming the file. From format version 2 the metadata carries the SHA-256 of every
/// tensor's bytes ("tensor_sha256", JSON name → hex), and a load checks them all before copying anything: a flipped bit in
/// a weight is refused instead of continuing a run on other numbers. Version 1 files (no digests) are still read.
/// </summary>
public static class Checkpoint
{
    public const string FormatName = "nativeconv-checkpoint";
    public const string FormatVersion = "2";

    /// <summary>The versions this program reads: 1 (no tensor digests) and 2.</summary>
    internal static readonly string[] ReadableVersions = ["1", "2"];
    public const string OptimizerPrefix = "optimizer/";
    public const string BestPrefix = "best/";

    internal static class Keys
    {
        public const string Format = "format";
        public const string Version = "format_version";
        public const string Kind = "kind";
        public const string Model = "model";
        public const string Optimizer = "optimizer";
        public const string StepCount = "optimizer.step_count";
        public const string LearningRate = "optimizer.learning_rate";
        public const string TrainerState = "trainer_state";
        public const string DropoutCalls = "dropout_calls";
        public const string Options = "options";
        public const string TrainCount = "train_count";
        public const string ValidationCount = "validation_count";
        public const string Created = "created";
        public const string TensorDigests = "tensor_sha256";
    }

    // ---------------------------------------------------------------- plain weights

    /// <summary>Writes the model's parameters (and optional string metadata) as a safetensors file, atomically.</summary>
    public static void SaveWeights(string path, Module model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var file = new SafeTensorsFile();
        AddParameters(file, model, prefix: "");
        file.Metadata[Keys.Format] = FormatName;
        file.Metadata[Keys.Version] = FormatVersion;
        file.Metadata[Keys.Kind] = "weights";
        file.Metadata[Keys.Model] = model.Name;
        if (metadata is not null)
            foreach (var (k, v) in metadata) file.Metadata[k] = v;
        file.Metadata[Keys.TensorDigests] = TensorDigests(file);
        file.Save(path);
    }

    /// <summary>
    /// Copies the parameters stored in <paramref name="path"/> (a weights file or a training checkpoint) into
    /// <paramref name="model"/>; every parameter must be present with the same shape. Returns the file's metadata.
    /// </summary>
    public static IReadOnlyDictionary<string, string> LoadWeights(string path, Module model)
    {
        var file = SafeTensorsFile.Load(path);
        VerifyDigests(file, path);
        CopyParameters(file, path, model.Parameters(), prefix: "");
        return file.Metadata;
    }

    // ---------------------------------------------------------------- training checkpoints

    /// <summary>The contents of a training checkpoint, validated structurally; apply it with <see cref="Restore"/>.</summary>
    internal sealed record TrainingCheckpoint(
        string Path, SafeTensorsFile File, TrainerState State, TrainingOptions Options, long StepCount,
        int TrainCount, int ValidationCount, Dictionary<string, long> DropoutCalls);

    internal static void SaveTraining(string path, Module model, Optimizer optimizer, IReadOnlyList<Tensor> bestWeights,
        TrainerState state, TrainingOptions options, int trainCount, int validationCount)
    {
        var file = new SafeTensorsFile();
        AddParameters(file, model, prefix: "");
        foreach (var (name, tensor) in optimizer.State) file.Add(OptimizerPrefix + name, Dims(tensor.Shape), tensor.ToArray());
        var parameters = model.Parameters();
        for (int i = 0; i < parameters.Count; i++)
            file.Add(BestPrefix + parameters[i].Name, Dims(bestWeights[i].Shape), bestWeights[i].ToArray());

        var m = file.Metadata;
        m[Keys.Format] = FormatName;
        m[Keys.Version] = FormatVersion;
        m[Keys.Kind] = "training";
        m[Keys.Model] = model.Name;
        m[Keys.Optimizer] = optimizer.GetType().Name;
        m[Keys.StepCount] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
        m[Keys.LearningRate] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture);
        m[Keys.TrainerState] = state.ToJson();
        m[Keys.DropoutCalls] = JsonSerializer.Serialize(DropoutCounters(model));
        m[Keys.Options] = JsonSerializer.Serialize(options);
        m[Keys.TrainCount] = trainCount.ToString(CultureInfo.InvariantCulture);
        m[Keys.ValidationCount] = validationCount.ToString(CultureInfo.InvariantCulture);
        m[Keys.Created] = DateTimeOffset.Now.ToString("O", CultureInfo.InvariantCulture);
        m[Keys.TensorDigests] = TensorDigests(file);
        file.Save(path);
    }

    internal static TrainingCheckpoint ReadTraining(string path)
    {
        var file = SafeTensorsFile.Load(path);
        var m = file.Metadata;
        string Get(string key) => m.TryGetValue(key, out var v)
            ? v
            : throw new CheckpointFormatException(path, $"metadata '{key}' is missing; this is not a NativeConv training checkpoint (a weights-only file cannot be resumed).");
        if (Get(Keys.Format) != FormatName)
            throw new CheckpointFormatException(path, $"metadata format is '{m[Keys.Format]}', not '{FormatName}'.");
        if (!ReadableVersions.Contains(Get(Keys.Version)))
            throw new CheckpointFormatException(path, $"format version {m[Keys.Version]} is not supported (this program reads versions {string.Join(" and ", ReadableVersions)}).");
        if (Get(Keys.Kind) != "training")
            throw new CheckpointFormatException(path, $"it holds '{m[Keys.Kind]}', not a training state; it cannot be resumed.");
        try
        {
            var state = TrainerState.FromJson(Get(Keys.TrainerState));
            var options = JsonSerializer.Deserialize<TrainingOptions>(Get(Keys.Options)) ?? throw new JsonException("options are JSON null");
            var dropout = JsonSerializer.Deserialize<Dictionary<string, long>>(Get(Keys.DropoutCalls)) ?? throw new JsonException("dropout counters are JSON null");
            long steps = long.Parse(Get(Keys.StepCount), NumberStyles.None, CultureInfo.InvariantCulture);
            int trainCount = int.Parse(Get(Keys.TrainCount), NumberStyles.None, CultureInfo.InvariantCulture);
            int validationCount = int.Parse(Get(Keys.ValidationCount), NumberStyles.None, CultureInfo.InvariantCulture);
            if (steps < 0 || trainCount < 1 || validationCount < 0)
                throw new CheckpointFormatException(path, $"the training metadata is out of range (step count {steps}, {trainCount} training and {validationCount} validation images).");
            if (ValidateState(state, options, trainCount) is { } problem)
                throw new CheckpointFormatException(path, $"the trainer state is inconsistent: {problem}.");
            VerifyDigests(file, path);
            return new TrainingCheckpoint(path, file, state, options, steps, trainCount, validationCount, dropout);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or OverflowException)
        {
            throw new CheckpointFormatException(path, $"the training metadata cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>Copies a training checkpoint into the live model, optimiser and best-weight tensors (shapes checked first).</summary>
    internal static void Restore(TrainingCheckpoint checkpoint, Module model, Optimizer optimizer, IReadOnlyList<Tensor> bestWeights)
    {
        string path = checkpoint.Path;
        var parameters = model.Parameters();
        // Validate everything before copying anything, so a mismatch leaves the model untouched.
        foreach (var p in parameters)
        {
            Require(checkpoint.File, path, p.Name, p.Shape);
            Require(checkpoint.File, path, BestPrefix + p.Name, p.Shape);
        }
        foreach (var (name, tensor) in optimizer.State) Require(checkpoint.File, path, OptimizerPrefix + name, tensor.Shape);
        var counters = DropoutModules(model);
        foreach (var (modulePath, _) in counters)
            if (!checkpoint.DropoutCalls.ContainsKey(modulePath))
                throw new CheckpointFormatException(path, $"it has no dropout counter for layer '{modulePath}'; was it written for another model?");

        CopyParameters(checkpoint.File, path, parameters, prefix: "");
        for (int i = 0; i < parameters.Count; i++)
        {
            checkpoint.File.TryGet(BestPrefix + parameters[i].Name, out var best);
            bestWeights[i].CopyFrom(best.Data);
        }
        foreach (var (name, tensor) in optimizer.State)
        {
            checkpoint.File.TryGet(OptimizerPrefix + name, out var saved);
            tensor.CopyFrom(saved.Data);
        }
        optimizer.StepCount = checkpoint.StepCount;
        foreach (var (modulePath, dropout) in counters) dropout.CallCount = checkpoint.DropoutCalls[modulePath];
    }

    /// <summary>
    /// Field-by-field check of a trainer state read from a checkpoint (a hand-edited or damaged file must not reach the
    /// trainer: a null history threw, a step position past the epoch wrote NaN into results.json). Null when consistent.
    /// </summary>
    internal static string? ValidateState(TrainerState state, TrainingOptions options, int trainCount)
    {
        if (state.History is null) return "the history is missing (null)";
        if (state.CompletedEpochs < 0 || state.History.Count != state.CompletedEpochs)
            return $"{state.CompletedEpochs} completed epochs but {state.History.Count} in the history";
        for (int i = 0; i < state.History.Count; i++)
            if (state.History[i] is null) return $"history entry {i + 1} is null";
        int stepsPerEpoch = options.BatchSize >= 1 ? (trainCount + options.BatchSize - 1) / options.BatchSize : 0;
        if (state.StepsIntoEpoch < 0 || (stepsPerEpoch > 0 && state.StepsIntoEpoch > stepsPerEpoch))
            return $"{state.StepsIntoEpoch} steps into an epoch of {stepsPerEpoch}";
        if (state.EpochSeen < 0 || state.EpochCorrect < 0 || state.EpochCorrect > state.EpochSeen || state.EpochSeen > trainCount)
            return $"{state.EpochCorrect} correct of {state.EpochSeen} seen in the current epoch (of {trainCount} images)";
        if (state.StepsIntoEpoch == 0 && state.EpochSeen != 0)
            return $"{state.EpochSeen} images seen in an epoch with no step taken";
        if (!double.IsFinite(state.EpochLossSum) || state.EpochLossSum < 0 || !double.IsFinite(state.EpochTrainSeconds) || state.EpochTrainSeconds < 0
            || !double.IsFinite(state.TotalSeconds) || state.TotalSeconds < 0 || state.TotalSteps < 0)
            return "a loss sum, a time or a step count is negative or not finite";
        if (state.BestEpoch < 0 || state.BestEpoch > state.CompletedEpochs || state.EpochsWithoutImprovement < 0
            || state.EpochsWithoutImprovement > state.CompletedEpochs || double.IsNaN(state.BestValidationLoss))
            return $"best epoch {state.BestEpoch}, {state.EpochsWithoutImprovement} epochs without improvement after {state.CompletedEpochs}";
        if (state.FinishedBecause is { } reason && !Enum.IsDefined(reason)) return $"an unknown stop reason ({(int)reason})";
        return null;
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>JSON object of every tensor's name → SHA-256 (hex) of its float32 little-endian bytes.</summary>
    private static string TensorDigests(SafeTensorsFile file)
    {
        var digests = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in file.Tensors) digests[t.Name] = Digest(t.Data);
        return JsonSerializer.Serialize(digests);
    }

    private static string Digest(float[] data)
    {
        ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan());
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are little-endian; this machine is not.");
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
    }

    /// <summary>
    /// Checks every tensor against the digests in the metadata (version 2 and later must have them; version 1 files have
    /// none). Throws before anything is copied, naming the first tensor whose bytes changed.
    /// </summary>
    internal static void VerifyDigests(SafeTensorsFile file, string path)
    {
        if (!file.Metadata.TryGetValue(Keys.TensorDigests, out var json))
        {
            if (file.Metadata.TryGetValue(Keys.Version, out var version) && version == "1") return;
            throw new CheckpointFormatException(path, $"metadata '{Keys.TensorDigests}' is missing: the tensors cannot be verified.");
        }
        Dictionary<string, string> digests;
        try
        {
            digests = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, $"metadata '{Keys.TensorDigests}' is damaged ({e.Message}).", e);
        }
        if (digests.Count != file.Tensors.Count)
            throw new CheckpointFormatException(path, $"it lists digests of {digests.Count} tensors but holds {file.Tensors.Count}.");
        foreach (var t in file.Tensors)
        {
            if (!digests.TryGetValue(t.Name, out var expected))
                throw new CheckpointFormatException(path, $"tensor '{t.Name}' has no digest.");
            if (!string.Equals(expected, Digest(t.Data), StringComparison.OrdinalIgnoreCase))
                throw new CheckpointFormatException(path, $"tensor '{t.Name}' does not match its SHA-256: the file was damaged after it was written. Resume from an earlier copy, or delete the checkpoint to retrain that model.");
        }
    }

    private static void AddParameters(SafeTensorsFile file, Module model, string prefix)
    {
        foreach (var p in model.Parameters()) file.Add(prefix + p.Name, Dims(p.Shape), p.Value.ToArray());
    }

    internal static void CopyParameters(SafeTensorsFile file, string path, IReadOnlyList<Parameter> parameters, string prefix)
    {
        foreach (var p in parameters) Require(file, path, prefix + p.Name, p.Shape);
        foreach (var p in parameters)
        {
            file.TryGet(prefix + p.Name, out var saved);
            p.Value.CopyFrom(saved.Data);
        }
    }

    private static void Require(SafeTensorsFile file, string path, string name, Shape shape)
    {
        if (!file.TryGet(name, out var saved))
            throw new CheckpointFormatException(path, $"tensor '{name}' is missing; was the checkpoint written for another model?");
        int[] dims = Dims(shape);
        if (!saved.Shape.AsSpan().SequenceEqual(dims))
            throw new CheckpointFormatException(path, $"tensor '{name}' has shape [{string.Join(", ", saved.Shape)}] but the model needs {shape}; was the checkpoint written for another model?");
    }

    private static int[] Dims(Shape shape)
    {
        var dims = new int[shape.Rank];
        for (int i = 0; i < dims.Length; i++) dims[i] = shape[i];
        return dims;
    }

    /// <summary>Every dropout layer of the model with its path ("dropout1", "block.dropout2"), in forward order.</summary>
    internal static List<(string Path, Dropout Layer)> DropoutModules(Module model)
    {
        var found = new List<(string, Dropout)>();
        Walk(model, "", found);
        return found;

        static void Walk(Module module, string path, List<(string, Dropout)> into)
        {
            if (module is Dropout d) into.Add((path.Length == 0 ? module.Name : path, d));
            foreach (var child in module.Children()) Walk(child, path.Length == 0 ? child.Name : path + "." + child.Name, into);
        }
    }

    private static Dictionary<string, long> DropoutCounters(Module model)
    {
        var counters = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (path, layer) in DropoutModules(model)) counters[path] = layer.CallCount;
        return counters;
    }
}
