using System.Diagnostics;
using NativeConv.Layers;
using NativeConv.Layers.Inference;
using NativeConv.Tensors.Inference;
using NativeConv.Layers.Init;
using NativeConv.Layers.Optim;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Ops;
using NativeConv.Tensors.Storage;
using NativeConv.Experiments.Data;

namespace NativeConv.Experiments.Training;

/// <summary>Changes a gathered training batch of <paramref name="count"/> images in place (see <see cref="Trainer.Augmentation"/>).</summary>
public delegate void BatchAugmentation(Span<float> images, int count, int epoch, int step);

/// <summary>
/// Mini-batch training of a classifier with softmax cross-entropy and Adam, Keras fit() style:
/// <list type="bullet">
/// <item>each epoch visits the training images in an order shuffled from (seed, epoch), in batches of
///   <see cref="TrainingOptions.BatchSize"/> (the last batch takes the remainder); every step is forward → loss → Backward →
///   optimizer.Step → ZeroGrad → Tape.Current.Reset(), gathering the batch into tensors reused for the whole run;</item>
/// <item>after each epoch the validation set is evaluated (eval mode, no tape); early stopping watches the validation loss
///   with <see cref="TrainingOptions.Patience"/> and, as Keras' restore_best_weights does, puts the best epoch's weights
///   back when it ends the run (a run that reaches the last epoch keeps its last weights);</item>
/// <item>after each epoch (and on an interruption mid-epoch) a checkpoint is written atomically to
///   <see cref="CheckpointPath"/>, from which <see cref="Resume"/> continues bit for bit (same seed and thread count).</item>
/// </list>
/// The test set is not the trainer's business until the end: call <see cref="Evaluate"/> on it after <see cref="Fit"/>.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Module _model;
    private readonly Optimizer _optimizer;
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly Dictionary<int, (Tensor Images, Tensor Labels)> _batches = new();
    private TrainerState _state = new();
    private Tensor[]? _best;
    private (int Train, int Validation)? _resumedCounts;
    private float[] _logits = [];
    private float[] _staging = [];
    private volatile bool _stopRequested;

    /// <summary>
    /// A trainer for <paramref name="model"/> (already on its device and initialised from <see cref="TrainingOptions.Seed"/>).
    /// Without an <paramref name="optimizer"/>, Adam with <see cref="TrainingOptions.LearningRate"/> and Keras defaults.
    /// </summary>
    public Trainer(Module model, TrainingOptions options, Optimizer? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        _model = model;
        _parameters = model.Parameters();
        _optimizer = optimizer ?? new Adam(_parameters, options.LearningRate);
        if (_optimizer.Parameters.Count != _parameters.Count)
            throw new ArgumentException($"Trainer: the optimiser updates {_optimizer.Parameters.Count} parameters but the model has {_parameters.Count}; create it from model.Parameters().");
    }

    public Module Model => _model;
    public Optimizer Optimizer => _optimizer;
    public TrainingOptions Options { get; }

    /// <summary>Where to write the checkpoint after every epoch (and when interrupted); null writes none.</summary>
    public string? CheckpointPath { get; set; }

    /// <summary>The progress display (default: none). <see cref="TrainingProgress.ForConsole"/> for a bar or log lines.</summary>
    public TrainingProgress Progress { get; set; } = TrainingProgress.Silent;

    /// <summary>
    /// Applied in place to every training batch after it is gathered (never to validation or evaluation batches), e.g. random
    /// shifts; null: none. It gets the epoch and step, so a seeded augmentation draws the same on a resume.
    /// </summary>
    public BatchAugmentation? Augmentation { get; set; }

    /// <summary>A copy of the current state (epochs done, early-stopping counter, history...).</summary>
    public TrainerState State => _state.Clone();

    /// <summary>After every training step (keep handlers cheap: they run inside the training loop).</summary>
    public event Action<StepProgress>? StepCompleted;

    /// <summary>After every epoch's validation and early-stopping bookkeeping, before the checkpoint is written. A handler may call <see cref="RequestStop"/>.</summary>
    public event Action<EpochMetrics>? EpochCompleted;

    /// <summary>After a checkpoint was written (its path).</summary>
    public event Action<string>? CheckpointSaved;

    /// <summary>Asks <see cref="Fit"/> to stop after the current epoch (a resumable stop; thread-safe).</summary>
    public void RequestStop() => _stopRequested = true;

    // ---------------------------------------------------------------- resume

    /// <summary>
    /// Loads a training checkpoint into the model, the optimiser and the trainer, so the next <see cref="Fit"/> continues
    /// where the checkpointed run stopped. The settings that decide the numbers must match; the epoch count may grow.
    /// Throws <see cref="CheckpointFormatException"/> for a damaged or mismatched file.
    /// </summary>
    public void Resume(string path)
    {
        var checkpoint = Checkpoint.ReadTraining(path);
        var saved = checkpoint.Options;
        var differences = new List<string>();
        void Compare<T>(string name, T was, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(was, now)) differences.Add($"{name} {was} → {now}");
        }
        Compare("seed", saved.Seed, Options.Seed);
        Compare("batch size", saved.BatchSize, Options.BatchSize);
        Compare("learning rate", saved.LearningRate, Options.LearningRate);
        Compare("patience", saved.Patience, Options.Patience);
        Compare("restore best weights", saved.RestoreBestWeights, Options.RestoreBestWeights);
        Compare("limit", saved.Limit, Options.Limit);
        Compare("validation fraction", saved.ValidationFraction, Options.ValidationFraction);
        if (differences.Count > 0)
            throw new CheckpointFormatException(path, $"it was made with other settings ({string.Join(", ", differences)}); resume with the original settings or start a new run.");
        if (saved.Threads != Options.Threads)
            Progress.Message($"Note: the checkpoint was made with {saved.Threads} threads, this run uses {Options.Threads}; results stay correct but are no longer bit-identical to an uninterrupted run.");

        Checkpoint.Restore(checkpoint, _model, _optimizer, EnsureBestWeights());
        _state = checkpoint.State.Clone();
        _resumedCounts = (checkpoint.TrainCount, checkpoint.ValidationCount);
        Progress.Message(_state.StepsIntoEpoch > 0
            ? $"Resumed from {path}: epoch {_state.CompletedEpochs + 1}, step {_state.StepsIntoEpoch}."
            : $"Resumed from {path}: {_state.CompletedEpochs} epoch(s) done.");
    }

    /// <summary><see cref="Resume"/> when <paramref name="path"/> exists; false (and nothing loaded) when it does not.</summary>
    public bool ResumeIfExists(string path)
    {
        if (!File.Exists(path)) return false;
        Resume(path);
        return true;
    }

    // ---------------------------------------------------------------- training

    /// <summary>
    /// Trains until the last epoch, early stopping, <see cref="RequestStop"/> or <paramref name="cancellation"/> (checked
    /// after every step: the state is checkpointed and the result says <see cref="StopReason.Interrupted"/>).
    /// </summary>
    public TrainingResult Fit(Dataset train, Dataset validation, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        CheckData(train, "training");
        CheckData(validation, "validation");
        if (train.Count == 0 || validation.Count == 0)
            throw new ArgumentException($"Trainer.Fit: the training set '{train.Name}' has {train.Count} images and the validation set '{validation.Name}' {validation.Count}; both need at least one.");
        if (_resumedCounts is { } counts && (counts.Train != train.Count || counts.Validation != validation.Count))
            throw new InvalidOperationException($"Trainer.Fit: the checkpoint was made with {counts.Train} training and {counts.Validation} validation images, but this run has {train.Count} and {validation.Count}; use the same data, --limit and validation split to resume.");
        if (Engine.Threads != Options.Threads) Engine.Threads = Options.Threads; // process-wide: the run's setting wins
        _stopRequested = false;

        if (_state.FinishedBecause == StopReason.MaxEpochs && Options.Epochs > _state.CompletedEpochs)
            _state.FinishedBecause = null; // a resumed run given more epochs carries on
        if (_state.FinishedBecause is { } done) return Result(done);

        var best = EnsureBestWeights();
        int batch = Options.BatchSize;
        int steps = (train.Count + batch - 1) / batch;
        var order = new int[train.Count];
        _model.Train();

        for (int epoch = _state.CompletedEpochs + 1; epoch <= Options.Epochs; epoch++)
        {
            ShuffledOrder(order, Options.Seed, epoch);
            bool interrupted = false;
            EpochMetrics? metrics = null;
            Progress.RunEpoch(epoch, Options.Epochs, steps, display =>
            {
                interrupted = !TrainEpoch(train, order, epoch, steps, display, cancellation);
                if (interrupted) return;
                display.Status($"epoch {epoch}/{Options.Epochs}  validating {validation.Count} images");
                var v = Evaluate(validation);
                metrics = new EpochMetrics(epoch,
                    _state.EpochLossSum / _state.EpochSeen,
                    (double)_state.EpochCorrect / _state.EpochSeen,
                    v.Loss, v.Accuracy, _state.EpochTrainSeconds, v.Seconds,
                    _state.EpochSeen / Math.Max(_state.EpochTrainSeconds, 1e-9));
                display.Completed(metrics);
            });

            if (interrupted)
            {
                SaveCheckpoint(train.Count, validation.Count);
                return Result(StopReason.Interrupted);
            }

            var m = metrics!;
            _state.History.Add(m);
            _state.CompletedEpochs = epoch;
            _state.TotalSeconds += m.TrainSeconds + m.ValidationSeconds;
            _state.StepsIntoEpoch = 0;
            _state.EpochLossSum = 0;
            _state.EpochCorrect = 0;
            _state.EpochSeen = 0;
            _state.EpochTrainSeconds = 0;

            // Early stopping, Keras semantics: an improvement is a strictly lower validation loss.
            if (m.ValidationLoss < _state.BestValidationLoss)
            {
                _state.BestValidationLoss = m.ValidationLoss;
                _state.BestEpoch = epoch;
                _state.EpochsWithoutImprovement = 0;
                for (int i = 0; i < _parameters.Count; i++) _parameters[i].Value.Backend.Copy(_parameters[i].Value, best[i]);
            }
            else
            {
                _state.EpochsWithoutImprovement++;
            }

            EpochCompleted?.Invoke(m);

            if (Options.Patience > 0 && _state.EpochsWithoutImprovement >= Options.Patience)
            {
                _state.FinishedBecause = StopReason.EarlyStopping;
                if (Options.RestoreBestWeights)
                {
                    for (int i = 0; i < _parameters.Count; i++) best[i].Backend.Copy(best[i], _parameters[i].Value);
                    _state.RestoredBestWeights = true;
                }
            }
            else if (epoch == Options.Epochs)
            {
                _state.FinishedBecause = StopReason.MaxEpochs;
            }
            SaveCheckpoint(train.Count, validation.Count);

            if (_state.FinishedBecause is { } reason) return Result(reason);
            if (cancellation.IsCancellationRequested) return Result(StopReason.Interrupted);
            if (_stopRequested) return Result(StopReason.Requested);
        }
        return Result(StopReason.MaxEpochs); // only reached when there were no epochs left to run
    }

    /// <summary>Runs the remaining steps of one epoch; false when cancelled (after finishing the step in flight).</summary>
    private bool TrainEpoch(Dataset train, int[] order, int epoch, int steps, EpochDisplay display, CancellationToken cancellation)
    {
        int batch = Options.BatchSize;
        var tape = Tape.Current;
        for (int step = _state.StepsIntoEpoch; step < steps; step++)
        {
            long started = Stopwatch.GetTimestamp();
            int start = step * batch;
            int n = Math.Min(batch, train.Count - start);
            var (x, y) = Batch(n, train);
            Gather(train, order, start, n, x, y, epoch, step);

            var logits = _model.Forward(x);
            CheckLogits(logits, n, train.ClassCount);
            Tensor loss;
            try
            {
                loss = Op.SoftmaxCrossEntropy(logits, y);
            }
            catch (InvalidOperationException e) // the op's one InvalidOperationException: a loss that is not finite
            {
                throw new TrainingDivergedException(_model.Name, epoch, step + 1, steps, "not finite", e);
            }
            float lossValue = loss.Item();
            if (!float.IsFinite(lossValue))
                throw new TrainingDivergedException(_model.Name, epoch, step + 1, steps, lossValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
            int correct = CountCorrect(logits, train.Labels, order, start, n);
            loss.Backward();
            _optimizer.Step();
            _optimizer.ZeroGrad();
            tape.Reset();

            _state.StepsIntoEpoch = step + 1;
            _state.TotalSteps++;
            _state.EpochLossSum += (double)lossValue * n;
            _state.EpochCorrect += correct;
            _state.EpochSeen += n;
            _state.EpochTrainSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;

            var progress = new StepProgress(epoch, Options.Epochs, step + 1, steps,
                _state.EpochLossSum / _state.EpochSeen, (double)_state.EpochCorrect / _state.EpochSeen,
                _state.EpochSeen / Math.Max(_state.EpochTrainSeconds, 1e-9));
            display.Step(progress);
            StepCompleted?.Invoke(progress);
            if (cancellation.IsCancellationRequested && step + 1 < steps) return false;
        }
        return true;
    }

    // ---------------------------------------------------------------- evaluation

    /// <summary>Loss, accuracy and confusion matrix of the model on <paramref name="data"/> (eval mode: no dropout, no tape).</summary>
    public EvaluationResult Evaluate(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckData(data, "evaluation");
        long started = Stopwatch.GetTimestamp();
        bool wasTraining = _model.IsTraining;
        _model.Eval();
        var confusion = new int[data.ClassCount][];
        for (int c = 0; c < confusion.Length; c++) confusion[c] = new int[data.ClassCount];
        double lossSum = 0;
        long correct = 0;
        var tape = Tape.Current;
        try
        {
            if (EvaluationSession(data) is { } session)
            {
                lossSum = EvaluateCompiled(session, data, confusion, ref correct);
                return Finish();
            }
            using (Tape.NoGrad())
            {
                int batch = Options.EvaluationBatchSize;
                for (int start = 0; start < data.Count; start += batch)
                {
                    int n = Math.Min(batch, data.Count - start);
                    var (x, y) = Batch(n, data);
                    Gather(data, null, start, n, x, y);
                    var logits = _model.Forward(x);
                    CheckLogits(logits, n, data.ClassCount);
                    lossSum += (double)Op.SoftmaxCrossEntropy(logits, y).Item() * n;
                    var host = DownloadLogits(logits, n * data.ClassCount);
                    for (int i = 0; i < n; i++)
                    {
                        int predicted = ArgMax(host.Slice(i * data.ClassCount, data.ClassCount));
                        int actual = data.Labels[start + i];
                        if (predicted == actual) correct++;
                        if (predicted >= 0) confusion[actual][predicted]++;
                    }
                    tape.Reset();
                }
            }
        }
        finally
        {
            if (wasTraining) _model.Train();
        }
        return Finish();

        EvaluationResult Finish()
        {
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            return data.Count == 0
                ? new EvaluationResult(double.NaN, double.NaN, 0, confusion, seconds)
                : new EvaluationResult(lossSum / data.Count, (double)correct / data.Count, data.Count, confusion, seconds);
        }
    }

    private InferenceSession? _evaluation;
    private bool _evaluationUnavailable;

    /// <summary>
    /// The model compiled for evaluation — forwards through the inference path, computing exactly what the training forward
    /// computes (<see cref="InferenceOptions.MatchTrainingForward"/>: the same bits, faster: fused pools, weights prepared
    /// once per weight version) — or null where the backend has no compiler (the GPU) or the model a layer without an
    /// inference form: then the tape forward under no-grad, as before.
    /// </summary>
    private InferenceSession? EvaluationSession(Dataset data)
    {
        if (_evaluationUnavailable) return null;
        var sample = new Shape(data.Shape.C, data.Shape.H, data.Shape.W);
        if (_evaluation is null || _evaluation.SampleShape != sample)
        {
            try { _evaluation = new InferenceSession(_model, sample, new InferenceOptions(MatchTrainingForward: true)); }
            catch (ArgumentException) { return null; } // the tape forward below reports a model that does not fit the data
        }
        if (!_evaluation.IsCompiled) _evaluationUnavailable = true; // a GPU model, or a layer without an inference form
        return _evaluation.IsCompiled && _evaluation.Outputs == data.ClassCount ? _evaluation : null;
    }

    /// <summary>The evaluation loop on the compiled model: logits on the host, the loss through the same op as before.</summary>
    private double EvaluateCompiled(InferenceSession session, Dataset data, int[][] confusion, ref long correct)
    {
        int batch = Options.EvaluationBatchSize, classes = data.ClassCount, sample = data.SampleSize;
        var logits = new float[Math.Min(batch, Math.Max(1, data.Count)) * classes];
        var labels = new float[Math.Min(batch, Math.Max(1, data.Count))];
        var backend = _model.Backend;
        var tape = Tape.Current;
        double lossSum = 0;
        using (Tape.NoGrad())
        {
            for (int start = 0; start < data.Count; start += batch)
            {
                int n = Math.Min(batch, data.Count - start);
                var batchLogits = logits.AsSpan(0, n * classes);
                session.Run(data.Images.AsSpan(start * sample, n * sample), n, batchLogits);
                for (int i = 0; i < n; i++) labels[i] = data.Labels[start + i];
                using (var logitsTensor = Tensor.FromSpan(batchLogits, new Shape(n, classes), backend))
                using (var labelsTensor = Tensor.FromSpan(labels.AsSpan(0, n), new Shape(n), backend))
                    lossSum += (double)Op.SoftmaxCrossEntropy(logitsTensor, labelsTensor).Item() * n;
                for (int i = 0; i < n; i++)
                {
                    int predicted = ArgMax(batchLogits.Slice(i * classes, classes));
                    int actual = data.Labels[start + i];
                    if (predicted == actual) correct++;
                    if (predicted >= 0) confusion[actual][predicted]++;
                }
                tape.Reset();
            }
        }
        return lossSum;
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>The order of epoch <paramref name="epoch"/>: a Fisher–Yates shuffle of 0..n−1 from a stream seeded by (seed, epoch).</summary>
    public static void ShuffledOrder(int[] order, int seed, int epoch)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var rng = new SplitMix64(SeedMixer.Mix(SeedMixer.Mix((ulong)(uint)seed, SeedMixer.Hash("shuffle")), (ulong)epoch));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    private TrainingResult Result(StopReason reason) => new(
        _state.History.ToArray(), _state.BestEpoch, _state.BestValidationLoss, reason, _state.RestoredBestWeights, _state.TotalSeconds);

    private void SaveCheckpoint(int trainCount, int validationCount)
    {
        if (CheckpointPath is null) return;
        Checkpoint.SaveTraining(CheckpointPath, _model, _optimizer, EnsureBestWeights(), _state, Options, trainCount, validationCount);
        CheckpointSaved?.Invoke(CheckpointPath);
    }

    private Tensor[] EnsureBestWeights()
    {
        if (_best is not null) return _best;
        _best = new Tensor[_parameters.Count];
        for (int i = 0; i < _best.Length; i++)
        {
            var p = _parameters[i].Value;
            _best[i] = Tensor.Empty(p.Shape, p.Backend);
            p.Backend.Copy(p, _best[i]);
            _best[i].Name = Checkpoint.BestPrefix + _parameters[i].Name;
        }
        return _best;
    }

    /// <summary>The persistent input and label tensors for batches of <paramref name="n"/> images (made once per size).</summary>
    private (Tensor Images, Tensor Labels) Batch(int n, Dataset data)
    {
        if (_batches.TryGetValue(n, out var pair) && pair.Images.Shape == new Shape(n, data.Shape.C, data.Shape.H, data.Shape.W))
            return pair;
        if (pair.Images is not null) { pair.Images.Dispose(); pair.Labels.Dispose(); }
        var backend = _model.Backend;
        pair = (Tensor.Empty(new Shape(n, data.Shape.C, data.Shape.H, data.Shape.W), backend), Tensor.Empty(new Shape(n), backend));
        _batches[n] = pair;
        return pair;
    }

    /// <summary>Copies images order[start..start+n) (or start..start+n when order is null) and their labels into the batch tensors.</summary>
    private void Gather(Dataset data, int[]? order, int start, int n, Tensor x, Tensor y, int epoch = 0, int step = 0)
    {
        int sample = data.SampleSize;
        bool host = x.Storage is HostStorage;
        // On the CPU the batch is written in place; a device batch is staged in host memory and uploaded once.
        if (!host && _staging.Length < n * sample) _staging = new float[n * sample];
        Span<float> images = host ? x.Span : _staging.AsSpan(0, n * sample);
        for (int i = 0; i < n; i++)
        {
            int index = order is null ? start + i : order[start + i];
            data.Images.AsSpan(index * sample, sample).CopyTo(images.Slice(i * sample, sample));
        }
        if (order is not null) Augmentation?.Invoke(images[..(n * sample)], n, epoch, step);
        if (!host) x.CopyFrom(images);

        if (!host && _staging.Length < n) _staging = new float[n * sample];
        Span<float> labels = y.Storage is HostStorage ? y.Span : _staging.AsSpan(0, n);
        for (int i = 0; i < n; i++) labels[i] = data.Labels[order is null ? start + i : order[start + i]];
        if (y.Storage is not HostStorage) y.CopyFrom(labels);
    }

    private int CountCorrect(Tensor logits, byte[] labels, int[] order, int start, int n)
    {
        int classes = logits.Shape[1];
        var host = DownloadLogits(logits, n * classes);
        int correct = 0;
        for (int i = 0; i < n; i++)
            if (ArgMax(host.Slice(i * classes, classes)) == labels[order[start + i]]) correct++;
        return correct;
    }

    private ReadOnlySpan<float> DownloadLogits(Tensor logits, int length)
    {
        if (logits.Storage is HostStorage) return logits.Span;
        if (_logits.Length < length) _logits = new float[length];
        var span = _logits.AsSpan(0, length);
        logits.CopyTo(span);
        return span;
    }

    /// <summary>Index of the largest value (the first on ties, as numpy); −1 when every value is NaN.</summary>
    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = -1;
        float max = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
            if (values[i] > max || (best < 0 && values[i] == max)) { max = values[i]; best = i; }
        return best;
    }

    private void CheckData(Dataset data, string role)
    {
        var expected = _model.OutputShape(new Shape(1, data.Shape.C, data.Shape.H, data.Shape.W));
        if (expected.Rank != 2 || expected[1] != data.ClassCount)
            throw new ArgumentException($"Trainer: the model '{_model.Name}' maps one {role} image {data.Shape} to {expected}, but the data has {data.ClassCount} classes; the model must output (N, {data.ClassCount}) logits.");
    }

    private static void CheckLogits(Tensor logits, int n, int classes)
    {
        if (logits.Shape.Rank != 2 || logits.Shape[0] != n || logits.Shape[1] != classes)
            throw new InvalidOperationException($"Trainer: the model produced {logits.Shape} for a batch of {n}; expected ({n}, {classes}) logits.");
    }

    public void Dispose()
    {
        foreach (var (images, labels) in _batches.Values)
        {
            images.Dispose();
            labels.Dispose();
        }
        _batches.Clear();
        if (_best is not null)
            foreach (var t in _best) t.Dispose();
        _best = null;
    }
}
