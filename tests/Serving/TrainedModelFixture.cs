using NativeConv.Experiments.Data;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tests.Data;

namespace NativeConv.Tests.Serving;

/// <summary>
/// An fmnist-cnn trained for a few steps by the real <see cref="Trainer"/> on real Fashion-MNIST (3,200 images, one epoch,
/// 50 steps), its checkpoint written the way a study writes it (models/fmnist-cnn-seed1/checkpoint.safetensors), and the
/// test set. Trained once per test process and shared (the Trainer sets Engine.Threads: users run in the engine-settings
/// collection).
/// </summary>
internal sealed class TrainedFashionCnn
{
    private static readonly Lazy<TrainedFashionCnn> s_instance = new(() => new TrainedFashionCnn());

    public static TrainedFashionCnn Instance => s_instance.Value;

    private TrainedFashionCnn()
    {
        (var train, Test) = FashionMnist.Load(RealData.Locator);
        Folder = Path.Combine(Path.GetTempPath(), "nativeconv-trained-" + Guid.NewGuid().ToString("N"));
        string unit = Path.Combine(Folder, "models", "fmnist-cnn-seed1");
        Directory.CreateDirectory(unit);
        CheckpointPath = Path.Combine(unit, "checkpoint.safetensors");
        var options = new TrainingOptions { Seed = 1, Threads = 2, Epochs = 1, BatchSize = 64, Patience = 0, LearningRate = 2e-3f, EvaluationBatchSize = 256 };
        Model = ModelZoo.Create("fmnist-cnn", seed: 1);
        using (var trainer = new Trainer(Model, options) { CheckpointPath = CheckpointPath })
            trainer.Fit(train.Select(Enumerable.Range(0, 3200).ToArray(), "train-3200"), train.Select(Enumerable.Range(59_000, 128).ToArray(), "validation-128"));
        Model.Eval();
    }

    /// <summary>A temporary run folder holding models/fmnist-cnn-seed1/checkpoint.safetensors (left for the OS to clean).</summary>
    public string Folder { get; }

    public string CheckpointPath { get; }

    /// <summary>The trained model (the trainer restored its best weights), in eval mode.</summary>
    public Module Model { get; }

    public Dataset Test { get; }

    /// <summary>The model's own logits for test images [start, start + count), computed with the engine's forward.</summary>
    public static float[] ReferenceLogits(Module model, Dataset data, int start, int count)
    {
        var (c, h, w) = data.Shape;
        var logits = new float[count * 10];
        using var input = Tensor.FromSpan(data.Images.AsSpan(start * data.SampleSize, count * data.SampleSize), new Shape(count, c, h, w));
        using (Tape.NoGrad()) model.Forward(input).CopyTo(logits);
        Tape.Current.Reset();
        return logits;
    }
}
