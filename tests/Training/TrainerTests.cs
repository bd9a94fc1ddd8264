using NativeConv.Experiments.Data;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Layers.Init;
using NativeConv.Tensors;

namespace NativeConv.Tests.Training;

/// <summary>The trainer on tiny synthetic data: learning, early stopping with restored weights, exact resume, checkpoints.</summary>
// Fit sets Engine.Threads (process-wide): run alone, beside the other tests that set it or measure allocation.
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)]
public sealed class TrainerTests : IDisposable
{
    private const int Threads = 2;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-trainer-" + Guid.NewGuid().ToString("N"));

    public TrainerTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Dataset Synthetic(string name, int count, int seed, bool randomLabels = false) =>
        SyntheticImages.Create(name, count, seed, randomLabels);

    private static Module Model(int seed, bool dropout = true)
    {
        var model = dropout
            ? new Sequential(new Flatten(), new Dense(16, 24), new ReLU(), new Dropout(0.3f, seed: 99), new Dense(24, 3))
            : new Sequential(new Flatten(), new Dense(16, 24), new ReLU(), new Dense(24, 3));
        model.Initialize(seed);
        return model;
    }

    private static TrainingOptions Options(int epochs, int patience, float lr = 1e-2f) => new()
    {
        Seed = 5, Threads = Threads, Epochs = epochs, BatchSize = 16, Patience = patience, LearningRate = lr, EvaluationBatchSize = 40,
    };

    private static float[][] Weights(Module model) => model.Parameters().Select(p => p.Value.ToArray()).ToArray();

    private static void AssertBitwiseEqual(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            for (int i = 0; i < expected[t].Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[t][i]) == BitConverter.SingleToInt32Bits(actual[t][i]),
                    $"tensor {t} element {i}: {expected[t][i]:R} vs {actual[t][i]:R}");
        }
    }

    [Fact]
    public void LossGoesDownAndTheModelLearnsTheClasses()
    {
        var train = Synthetic("train", 200, seed: 1);
        var validation = Synthetic("validation", 60, seed: 2);
        var test = Synthetic("test", 90, seed: 3);
        var model = Model(seed: 1);
        using var trainer = new Trainer(model, Options(epochs: 6, patience: 0));
        var before = trainer.Evaluate(test);
        var result = trainer.Fit(train, validation);

        Assert.Equal(StopReason.MaxEpochs, result.StopReason);
        Assert.Equal(6, result.History.Count);
        Assert.Equal([1, 2, 3, 4, 5, 6], result.History.Select(e => e.Epoch));
        Assert.True(result.History[^1].TrainLoss < 0.5 * result.History[0].TrainLoss,
            $"train loss {result.History[0].TrainLoss} → {result.History[^1].TrainLoss}");
        Assert.True(result.History[^1].ValidationLoss < result.History[0].ValidationLoss);
        Assert.All(result.History, e => Assert.True(e.ImagesPerSecond > 0 && e.TrainSeconds > 0));
        Assert.True(model.IsTraining); // Fit leaves the model as it found it

        var after = trainer.Evaluate(test);
        Assert.True(after.Accuracy > 0.9, $"test accuracy {after.Accuracy}");
        Assert.True(after.Loss < before.Loss);
        Assert.Equal(90, after.Confusion.Sum(row => row.Sum()));
        Assert.Equal(after.Accuracy, (double)Enumerable.Range(0, 3).Sum(c => after.Confusion[c][c]) / 90);
    }

    [Fact]
    public void EarlyStoppingEndsTheRunAndRestoresTheBestEpochsWeights()
    {
        // Labels unrelated to the pixels and a high learning rate: the model memorises the training set and the validation
        // loss rises after the first epochs.
        var train = Synthetic("train", 96, seed: 4, randomLabels: true);
        var validation = Synthetic("validation", 60, seed: 5, randomLabels: true);
        var model = Model(seed: 2, dropout: false);
        using var trainer = new Trainer(model, Options(epochs: 40, patience: 2, lr: 5e-2f));
        var snapshots = new Dictionary<int, float[][]>();
        trainer.EpochCompleted += m => snapshots[m.Epoch] = Weights(model);
        var result = trainer.Fit(train, validation);

        Assert.Equal(StopReason.EarlyStopping, result.StopReason);
        Assert.True(result.RestoredBestWeights);
        Assert.True(result.History.Count < 40);
        Assert.Equal(result.BestEpoch + 2, result.History.Count); // stopped after `patience` epochs without improvement
        double bestLoss = result.History.Min(e => e.ValidationLoss);
        Assert.Equal(bestLoss, result.BestValidationLoss);
        Assert.Equal(bestLoss, result.History[result.BestEpoch - 1].ValidationLoss);
        Assert.All(result.History.Skip(result.BestEpoch), e => Assert.True(e.ValidationLoss >= bestLoss));
        Assert.NotEqual(result.BestEpoch, result.History.Count);

        AssertBitwiseEqual(snapshots[result.BestEpoch], Weights(model));
        Assert.Equal(result.History[result.BestEpoch - 1].ValidationLoss, trainer.Evaluate(validation).Loss, 6);
    }

    [Fact]
    public void ResumingAfterInterruptionsGivesBitwiseTheSameRunAsNoInterruption()
    {
        var train = Synthetic("train", 100, seed: 6); // 7 steps per epoch, the last one partial
        var validation = Synthetic("validation", 30, seed: 7);
        var options = Options(epochs: 4, patience: 0);

        float[][] expected;
        TrainingResult uninterrupted;
        using (var trainer = new Trainer(Model(seed: 3), options))
        {
            uninterrupted = trainer.Fit(train, validation);
            expected = Weights(trainer.Model);
        }

        string checkpoint = Path.Combine(_folder, "run.safetensors");

        // 1) A command asks to stop after epoch 1.
        using (var trainer = new Trainer(Model(seed: 3), options) { CheckpointPath = checkpoint })
        {
            trainer.EpochCompleted += m => { if (m.Epoch == 1) trainer.RequestStop(); };
            var first = trainer.Fit(train, validation);
            Assert.Equal(StopReason.Requested, first.StopReason);
            Assert.Single(first.History);
        }

        // 2) A new "process" resumes, and Ctrl-C arrives in the middle of epoch 3 (after its 3rd step).
        using (var cancel = new CancellationTokenSource())
        using (var trainer = new Trainer(Model(seed: 3), options) { CheckpointPath = checkpoint })
        {
            trainer.Resume(checkpoint);
            trainer.StepCompleted += p => { if (p.Epoch == 3 && p.Step == 3) cancel.Cancel(); };
            var second = trainer.Fit(train, validation, cancel.Token);
            Assert.Equal(StopReason.Interrupted, second.StopReason);
            Assert.Equal(2, second.History.Count);
            Assert.Equal(3, trainer.State.StepsIntoEpoch);
        }

        // 3) Another resume finishes the run.
        TrainingResult final;
        using (var trainer = new Trainer(Model(seed: 3), options) { CheckpointPath = checkpoint })
        {
            trainer.Resume(checkpoint);
            Assert.Equal(3, trainer.State.StepsIntoEpoch);
            final = trainer.Fit(train, validation);
            AssertBitwiseEqual(expected, Weights(trainer.Model));
        }

        Assert.Equal(StopReason.MaxEpochs, final.StopReason);
        Assert.Equal(uninterrupted.History.Count, final.History.Count);
        for (int i = 0; i < final.History.Count; i++)
        {
            Assert.Equal(uninterrupted.History[i].TrainLoss, final.History[i].TrainLoss);
            Assert.Equal(uninterrupted.History[i].TrainAccuracy, final.History[i].TrainAccuracy);
            Assert.Equal(uninterrupted.History[i].ValidationLoss, final.History[i].ValidationLoss);
        }

        // 4) Resuming a finished run does nothing but report it.
        using (var trainer = new Trainer(Model(seed: 3), options))
        {
            trainer.Resume(checkpoint);
            var again = trainer.Fit(train, validation);
            Assert.Equal(StopReason.MaxEpochs, again.StopReason);
            AssertBitwiseEqual(expected, Weights(trainer.Model));
        }
    }

    [Fact]
    public void CheckpointHoldsTheExactParametersOptimiserStateAndTrainerState()
    {
        var train = Synthetic("train", 64, seed: 8);
        var validation = Synthetic("validation", 20, seed: 9);
        string path = Path.Combine(_folder, "c.safetensors");
        var model = Model(seed: 4);
        using var trainer = new Trainer(model, Options(epochs: 2, patience: 0)) { CheckpointPath = path };
        var saved = new List<string>();
        trainer.CheckpointSaved += saved.Add;
        trainer.Fit(train, validation);
        Assert.Equal([path, path], saved);

        var file = SafeTensorsFile.Load(path);
        foreach (var p in model.Parameters())
        {
            Assert.True(file.TryGet(p.Name, out var stored), p.Name);
            Assert.Equal(Enumerable.Range(0, p.Shape.Rank).Select(i => p.Shape[i]), stored.Shape);
            AssertBitwiseEqual([p.Value.ToArray()], [stored.Data]);
            Assert.True(file.Contains(Checkpoint.BestPrefix + p.Name));
        }
        foreach (var (name, tensor) in trainer.Optimizer.State)
        {
            Assert.True(file.TryGet(Checkpoint.OptimizerPrefix + name, out var stored), name);
            AssertBitwiseEqual([tensor.ToArray()], [stored.Data]);
        }
        Assert.Equal(trainer.Optimizer.StepCount.ToString(), file.Metadata["optimizer.step_count"]);
        Assert.Equal(8L, trainer.Optimizer.StepCount); // 2 epochs × 4 steps
        Assert.Equal(trainer.State.ToJson(), file.Metadata["trainer_state"]);
        Assert.Equal("""{"dropout1":8}""", file.Metadata["dropout_calls"]);

        // The same file serves as a weights file for a fresh model...
        var fresh = Model(seed: 77);
        Checkpoint.LoadWeights(path, fresh);
        AssertBitwiseEqual(Weights(model), Weights(fresh));

        // ...and a weights-only file round-trips too.
        string weights = Path.Combine(_folder, "w.safetensors");
        Checkpoint.SaveWeights(weights, model, new Dictionary<string, string> { ["note"] = "x" });
        var other = Model(seed: 78);
        var metadata = Checkpoint.LoadWeights(weights, other);
        AssertBitwiseEqual(Weights(model), Weights(other));
        Assert.Equal("x", metadata["note"]);
        Assert.Equal("weights", metadata["kind"]);
        using var weightsOnly = new Trainer(Model(seed: 4), Options(epochs: 2, patience: 0));
        Assert.Contains("cannot be resumed", Assert.Throws<CheckpointFormatException>(() => weightsOnly.Resume(weights)).Message);
    }

    [Fact]
    public void MismatchedOrDamagedCheckpointsAreRejectedWithoutTouchingTheModel()
    {
        var train = Synthetic("train", 32, seed: 10);
        var validation = Synthetic("validation", 16, seed: 11);
        string path = Path.Combine(_folder, "m.safetensors");
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0)) { CheckpointPath = path })
            trainer.Fit(train, validation);

        // Another architecture: a clear message, and the model keeps its weights.
        var wider = new Sequential(new Flatten(), new Dense(16, 30), new ReLU(), new Dropout(0.3f), new Dense(30, 3));
        wider.Initialize(1);
        var before = Weights(wider);
        using (var trainer = new Trainer(wider, Options(epochs: 1, patience: 0)))
        {
            var ex = Assert.Throws<CheckpointFormatException>(() => trainer.Resume(path));
            Assert.Contains("another model", ex.Message);
            Assert.Equal(path, ex.FilePath);
        }
        AssertBitwiseEqual(before, Weights(wider));

        // Other settings.
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0) with { Seed = 6 }))
            Assert.Contains("other settings", Assert.Throws<CheckpointFormatException>(() => trainer.Resume(path)).Message);

        // Other data.
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 3, patience: 0)))
        {
            trainer.Resume(path);
            Assert.Contains("same data", Assert.Throws<InvalidOperationException>(() => trainer.Fit(Synthetic("t", 33, 1), validation)).Message);
        }

        // Damaged bytes: truncations and flips anywhere only ever give the format exception.
        byte[] bytes = File.ReadAllBytes(path);
        var rng = new Random(3);
        string damaged = Path.Combine(_folder, "damaged.safetensors");
        for (int trial = 0; trial < 60; trial++)
        {
            byte[] copy = trial % 2 == 0 ? bytes.AsSpan(0, rng.Next(bytes.Length)).ToArray() : (byte[])bytes.Clone();
            if (trial % 2 == 1) copy[8 + rng.Next(200)] ^= (byte)(1 << rng.Next(8)); // inside the JSON header
            File.WriteAllBytes(damaged, copy);
            using var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0));
            try { trainer.Resume(damaged); }
            catch (CheckpointFormatException ex) { Assert.Equal(damaged, ex.FilePath); }
        }
    }

    [Fact]
    public void DivergenceStopsNamingModelEpochAndStepAndKeepsTheLastGoodCheckpoint()
    {
        var train = Synthetic("train", 32, seed: 16);
        var validation = Synthetic("validation", 16, seed: 17);
        string path = Path.Combine(_folder, "diverged.safetensors");
        var model = Model(seed: 5);
        using var trainer = new Trainer(model, Options(epochs: 3, patience: 0)) { CheckpointPath = path };
        // After the first step of epoch 2 (epoch 1 is checkpointed) a weight turns NaN, as an exploding update would leave it.
        trainer.StepCompleted += p =>
        {
            if (p.Epoch == 2 && p.Step == 1) model.Parameters()[0].Value.CopyFrom(Enumerable.Repeat(float.NaN, model.Parameters()[0].Shape.Size).ToArray());
        };
        byte[]? afterEpoch1 = null;
        trainer.CheckpointSaved += p => afterEpoch1 ??= File.ReadAllBytes(p);
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(train, validation));
        Assert.Contains($"Training of {model.Name} diverged", ex.Message);
        Assert.Contains("epoch 2, step 2/2", ex.Message);
        Assert.Contains("last good checkpoint", ex.Message);
        Assert.Equal(afterEpoch1, File.ReadAllBytes(path)); // nothing saved after the divergence
        using var resumed = new Trainer(Model(seed: 5), Options(epochs: 3, patience: 0));
        resumed.Resume(path);
        Assert.Equal(1, resumed.State.CompletedEpochs);
        Assert.All(resumed.Model.Parameters(), p => Assert.All(p.Value.ToArray(), v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void AFlippedBitInAnyTensorIsRefusedBeforeAnythingIsCopied()
    {
        var train = Synthetic("train", 32, seed: 12);
        var validation = Synthetic("validation", 16, seed: 13);
        string path = Path.Combine(_folder, "digest.safetensors");
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0)) { CheckpointPath = path })
            trainer.Fit(train, validation);
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        var file = SafeTensorsFile.Load(path);
        Assert.Equal("2", file.Metadata["format_version"]);
        Assert.Contains("tensor_sha256", file.Metadata.Keys);

        // One flipped bit inside each tensor's bytes (parameters, optimiser moments, best weights): refused, named.
        string damaged = Path.Combine(_folder, "flipped.safetensors");
        long offset = 8 + headerLength;
        using var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        foreach (var tensor in file.Tensors)
        {
            // The header's data_offsets locate the tensor's bytes; flip one bit in the middle of them.
            var offsets = header.RootElement.GetProperty(tensor.Name).GetProperty("data_offsets");
            long begin = offsets[0].GetInt64(), end = offsets[1].GetInt64();
            byte[] copy = (byte[])bytes.Clone();
            copy[offset + (begin + end) / 2] ^= 0x10;
            File.WriteAllBytes(damaged, copy);

            var model = Model(seed: 21);
            var before = Weights(model);
            using (var trainer = new Trainer(model, Options(epochs: 1, patience: 0)))
            {
                var ex = Assert.Throws<CheckpointFormatException>(() => trainer.Resume(damaged));
                Assert.Contains("SHA-256", ex.Message);
                Assert.Contains($"'{tensor.Name}'", ex.Message);
            }
            Assert.Contains("SHA-256", Assert.Throws<CheckpointFormatException>(() => Checkpoint.LoadWeights(damaged, Model(seed: 22))).Message);
            AssertBitwiseEqual(before, Weights(model));
        }

        // A version-2 file without its digests is refused too (they cannot have been lost by accident).
        file.Metadata.Remove("tensor_sha256");
        file.Save(damaged);
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0)))
            Assert.Contains("cannot be verified", Assert.Throws<CheckpointFormatException>(() => trainer.Resume(damaged)).Message);
        // ...while a version-1 file (written before digests existed) still resumes.
        file.Metadata["format_version"] = "1";
        file.Save(damaged);
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0)))
            trainer.Resume(damaged);
    }

    [Theory]
    [InlineData("history", "null", "history is missing")]
    [InlineData("history", "[null]", "history entry 1 is null")]
    [InlineData("steps_into_epoch", "99", "steps into an epoch of 2")]
    [InlineData("steps_into_epoch", "-1", "steps into an epoch")]
    [InlineData("epoch_correct", "1000", "correct of")]
    [InlineData("epoch_loss_sum", "\"NaN\"", "not finite")]
    [InlineData("best_epoch", "7", "best epoch 7")]
    [InlineData("epochs_without_improvement", "-2", "epochs without improvement")]
    public void ADamagedTrainerStateIsRefusedFieldByField(string field, string value, string expected)
    {
        var train = Synthetic("train", 32, seed: 14);
        var validation = Synthetic("validation", 16, seed: 15);
        string path = Path.Combine(_folder, "state.safetensors");
        using (var trainer = new Trainer(Model(seed: 5), Options(epochs: 1, patience: 0)) { CheckpointPath = path })
            trainer.Fit(train, validation);
        var file = SafeTensorsFile.Load(path);
        var state = System.Text.Json.Nodes.JsonNode.Parse(file.Metadata["trainer_state"])!.AsObject();
        // After one epoch "[null]" keeps the history's count consistent, so the null entry itself is what is caught.
        state[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        file.Metadata["trainer_state"] = state.ToJsonString();
        file.Save(path);
        using var resumed = new Trainer(Model(seed: 5), Options(epochs: 2, patience: 0));
        var ex = Assert.Throws<CheckpointFormatException>(() => resumed.Resume(path));
        Assert.Contains("trainer state", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void PlainProgressWritesOneLinePerEpoch()
    {
        var writer = new StringWriter();
        using var trainer = new Trainer(Model(seed: 6), Options(epochs: 2, patience: 0))
        {
            Progress = new PlainTrainingProgress(writer, TimeSpan.FromHours(1)),
        };
        trainer.Fit(Synthetic("train", 40, 12), Synthetic("validation", 10, 13));
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^epoch 1/2  loss \d+\.\d{4}  acc \d+\.\d\d%  val_loss \d+\.\d{4}  val_acc \d+\.\d\d%  \d+\.\ds  \d+ img/s", lines[0]);
        Assert.StartsWith("epoch 2/2", lines[1]);
    }

    [Fact]
    public void ShuffledOrderIsAPermutationFixedBySeedAndEpoch()
    {
        var a = new int[1000];
        var b = new int[1000];
        Trainer.ShuffledOrder(a, seed: 1, epoch: 1);
        Trainer.ShuffledOrder(b, seed: 1, epoch: 1);
        Assert.Equal(a, b);
        Assert.Equal(Enumerable.Range(0, 1000), a.Order());
        Assert.NotEqual(Enumerable.Range(0, 1000), a);
        Trainer.ShuffledOrder(b, seed: 1, epoch: 2);
        Assert.NotEqual(a, b);
        Trainer.ShuffledOrder(b, seed: 2, epoch: 1);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void BadDataOrModelShapesFailAtTheDoor()
    {
        using var trainer = new Trainer(Model(seed: 7), Options(epochs: 1, patience: 0));
        var wrongShape = new Dataset("rgb", new float[2 * 3 * 4 * 4], [0, 1], ["a", "b", "c"], 3, 4, 4);
        Assert.Throws<ArgumentException>(() => trainer.Fit(wrongShape, wrongShape));
        var fourClasses = new Dataset("four", new float[2 * 16], [0, 3], ["a", "b", "c", "d"], 1, 4, 4);
        Assert.Contains("4 classes", Assert.Throws<ArgumentException>(() => trainer.Evaluate(fourClasses)).Message);
        Assert.Throws<ArgumentException>(() => new Trainer(Model(seed: 7), new TrainingOptions { BatchSize = 0 }));
    }
}
