using NativeConv.Experiments.Data;

namespace NativeConv.Experiments.Training;

/// <summary>The three sets a study trains and reports on. The test set is only for the final evaluation.</summary>
public sealed record StudySplits(Dataset Train, Dataset Validation, Dataset Test)
{
    /// <summary>
    /// The same preparation for every study: with <see cref="TrainingOptions.Limit"/> N, a seeded stratified subset of N
    /// training images (and of at most N test images, for quick runs); then a seeded stratified validation split of
    /// <see cref="TrainingOptions.ValidationFraction"/> of the training images. All seeds come from
    /// <see cref="TrainingOptions.Seed"/>, so the same options give the same three sets.
    /// </summary>
    public static StudySplits Prepare(Dataset fullTrain, Dataset test, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(fullTrain);
        ArgumentNullException.ThrowIfNull(test);
        options.Validate();
        var train = fullTrain;
        if (options.Limit is int limit)
        {
            train = fullTrain.Limit(limit, seed: options.Seed);
            test = test.Limit(limit, seed: options.Seed + 1);
        }
        var (fit, validation) = train.SplitValidation(options.ValidationFraction, seed: options.Seed);
        return new StudySplits(fit, validation, test);
    }
}
