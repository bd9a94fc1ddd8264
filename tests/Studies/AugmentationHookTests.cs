using NativeConv.Experiments.Data;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Tests.Training;

namespace NativeConv.Tests.Studies;

/// <summary>
/// The trainer's batch-augmentation hook (what --augment-shift trains with): called once per training step with that step's
/// gathered images, epoch and step; never for validation or evaluation; and what it writes is what the model trains on.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // Fit sets Engine.Threads
public sealed class AugmentationHookTests
{
    private static Module Model()
    {
        var model = new Sequential(new Flatten(), new Dense(16, 12), new ReLU(), new Dense(12, 3));
        model.Initialize(4);
        return model;
    }

    private static TrainingOptions Options(int epochs = 2) => new() { Seed = 5, Threads = 2, Epochs = epochs, BatchSize = 16, Patience = 0, LearningRate = 1e-2f, EvaluationBatchSize = 40 };

    [Fact]
    public void Augmentation_sees_every_training_batch_once_and_no_evaluation_batch()
    {
        var train = SyntheticImages.Create("train", 40, seed: 1); // batches of 16, 16, 8
        var validation = SyntheticImages.Create("validation", 30, seed: 2);
        var calls = new List<(int Count, int Epoch, int Step, float Sum)>();
        using var trainer = new Trainer(Model(), Options())
        {
            Augmentation = (images, count, epoch, step) =>
            {
                Assert.Equal(count * 16, images.Length);
                float sum = 0;
                foreach (float v in images) sum += v;
                calls.Add((count, epoch, step, sum));
            },
        };
        trainer.Fit(train, validation);
        trainer.Evaluate(validation);
        Assert.Equal([(16, 1, 0), (16, 1, 1), (8, 1, 2), (16, 2, 0), (16, 2, 1), (8, 2, 2)], calls.Select(c => (c.Count, c.Epoch, c.Step)));
        // Each epoch's batches together hold every training image once.
        float total = train.Images.Sum();
        Assert.Equal(total, calls.Where(c => c.Epoch == 1).Sum(c => c.Sum), 2);
    }

    [Fact]
    public void The_model_trains_on_what_the_augmentation_wrote()
    {
        var train = SyntheticImages.Create("train", 200, seed: 1);
        var validation = SyntheticImages.Create("validation", 60, seed: 2);
        // Blanking every batch leaves nothing to learn from: the training loss is the loss of constant inputs.
        using var blank = new Trainer(Model(), Options(epochs: 8)) { Augmentation = (images, _, _, _) => images.Clear() };
        using var plain = new Trainer(Model(), Options(epochs: 8));
        var blanked = blank.Fit(train, validation);
        var trained = plain.Fit(train, validation);
        Assert.True(trained.History[^1].TrainAccuracy > 0.9 && blanked.History[^1].TrainAccuracy < 0.5,
            $"train accuracy {trained.History[^1].TrainAccuracy} with the images, {blanked.History[^1].TrainAccuracy} with blanked batches");
        // A shift augmentation changes the trajectory; a zero shift (P = 0) does not.
        using var shifted = new Trainer(Model(), Options(epochs: 8)) { Augmentation = new RandomShiftAugmentation(1, 3, 1, 4, 4).Apply };
        using var still = new Trainer(Model(), Options(epochs: 8)) { Augmentation = new RandomShiftAugmentation(0, 3, 1, 4, 4).Apply };
        Assert.NotEqual(trained.History[0].TrainLoss, shifted.Fit(train, validation).History[0].TrainLoss);
        Assert.Equal(trained.History[0].TrainLoss, still.Fit(train, validation).History[0].TrainLoss);
    }
}
