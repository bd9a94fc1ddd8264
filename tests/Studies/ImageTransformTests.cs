using NativeConv.Experiments.Data;
using NativeConv.Experiments.Studies;
using NativeConv.Experiments.Training;
using NativeConv.Tests.Data;

namespace NativeConv.Tests.Studies;

/// <summary>
/// The transforms of the inductive-bias studies on known images and on the real training labels: shifts (8 directions, zero
/// fill), the pixel permutation (a seeded bijection, applied identically to train, validation and test), the nested
/// stratified subsets, the training-time shift augmentation, and the curve statistics the findings are computed from.
/// </summary>
public sealed class ImageTransformTests(FashionMnistFixture fmnist) : IClassFixture<FashionMnistFixture>
{
    /// <summary>A C×H×W image whose every value is distinct and non-zero: 1 + index.</summary>
    private static float[] Numbered(int c, int h, int w) => Enumerable.Range(1, c * h * w).Select(i => (float)i).ToArray();

    [Fact]
    public void A_single_pixel_moves_one_step_in_each_of_the_8_directions()
    {
        // 5×5, one lit pixel at row 2, column 2; each direction's expected (row, column), written out by hand.
        var expected = new Dictionary<string, (int Row, int Column)>
        {
            ["right"] = (2, 3), ["left"] = (2, 1), ["down"] = (3, 2), ["up"] = (1, 2),
            ["down-right"] = (3, 3), ["down-left"] = (3, 1), ["up-right"] = (1, 3), ["up-left"] = (1, 1),
        };
        Assert.Equal(8, ImageTransforms.Directions.Count);
        foreach (var (name, dx, dy) in ImageTransforms.Directions)
        {
            var image = new float[25];
            image[2 * 5 + 2] = 7f;
            var shifted = new float[25];
            ImageTransforms.Shift(image, shifted, 1, 5, 5, 2 * dx, 2 * dy);
            var (row, column) = expected[name];
            // Two steps: the pixel lands at the border, 2 rows/columns from the centre.
            int target = (2 + 2 * (row - 2)) * 5 + 2 + 2 * (column - 2);
            for (int i = 0; i < 25; i++) Assert.True(shifted[i] == (i == target ? 7f : 0f), $"{name}: pixel {i} is {shifted[i]}");
            ImageTransforms.Shift(image, shifted, 1, 5, 5, dx, dy);
            Assert.Equal(7f, shifted[row * 5 + column]);
            Assert.Equal(7f, shifted.Sum());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)] // the whole width: everything leaves the image
    public void Shift_matches_the_definition_with_zero_fill_in_every_direction_and_channel(int step)
    {
        const int c = 2, h = 3, w = 4;
        var image = Numbered(c, h, w);
        foreach (var (name, ux, uy) in ImageTransforms.Directions)
        {
            int dx = step * ux, dy = step * uy;
            var shifted = new float[image.Length];
            ImageTransforms.Shift(image, shifted, c, h, w, dx, dy);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        int sy = y - dy, sx = x - dx;
                        float want = sy >= 0 && sy < h && sx >= 0 && sx < w ? image[(ch * h + sy) * w + sx] : 0f;
                        Assert.True(want == shifted[(ch * h + y) * w + x], $"{name} by {step}: [{ch},{y},{x}] is {shifted[(ch * h + y) * w + x]}, expected {want}");
                    }
        }
        // Shift 0 is the identity.
        var same = new float[image.Length];
        ImageTransforms.Shift(image, same, c, h, w, 0, 0);
        Assert.Equal(image, same);
    }

    [Fact]
    public void Shifted_dataset_shifts_every_image_and_keeps_the_labels()
    {
        var data = fmnist.Test.Limit(50, seed: 1);
        var shifted = ImageTransforms.Shifted(data, -3, 2);
        Assert.Same(data.Labels, shifted.Labels);
        var one = new float[data.SampleSize];
        for (int i = 0; i < data.Count; i++)
        {
            ImageTransforms.Shift(data.Image(i), one, 1, 28, 28, -3, 2);
            Assert.True(one.AsSpan().SequenceEqual(shifted.Image(i)), $"image {i}");
        }
        // Zero fill: the last 3 columns and the first 2 rows are empty.
        for (int i = 0; i < data.Count; i++)
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    if (x >= 25 || y < 2) Assert.Equal(0f, shifted.Image(i)[y * 28 + x]);
    }

    [Fact]
    public void Random_shifts_are_seeded_and_each_image_is_one_shift_within_the_bound()
    {
        var data = fmnist.Test.Limit(40, seed: 2);
        var a = ImageTransforms.RandomlyShifted(data, 3, seed: 5);
        var b = ImageTransforms.RandomlyShifted(data, 3, seed: 5);
        var c = ImageTransforms.RandomlyShifted(data, 3, seed: 6);
        Assert.Equal(a.Images, b.Images);
        Assert.NotEqual(a.Images, c.Images);
        var candidate = new float[data.SampleSize];
        for (int i = 0; i < data.Count; i++)
        {
            bool found = false;
            for (int dy = -3; dy <= 3 && !found; dy++)
                for (int dx = -3; dx <= 3 && !found; dx++)
                {
                    ImageTransforms.Shift(data.Image(i), candidate, 1, 28, 28, dx, dy);
                    found = candidate.AsSpan().SequenceEqual(a.Image(i));
                }
            Assert.True(found, $"image {i} is no shift of at most 3 px of the original");
        }
    }

    [Fact]
    public void Training_augmentation_shifts_each_batch_image_within_P_and_is_seeded_by_epoch_and_step()
    {
        var data = fmnist.Train.Limit(32, seed: 3);
        float[] Augmented(int seed, int epoch, int step)
        {
            var batch = (float[])data.Images.Clone();
            new RandomShiftAugmentation(2, seed, 1, 28, 28).Apply(batch, data.Count, epoch, step);
            return batch;
        }
        var first = Augmented(7, 1, 0);
        Assert.Equal(first, Augmented(7, 1, 0));
        Assert.NotEqual(first, Augmented(7, 1, 1));
        Assert.NotEqual(first, Augmented(7, 2, 0));
        Assert.NotEqual(first, data.Images);
        var candidate = new float[data.SampleSize];
        for (int i = 0; i < data.Count; i++)
        {
            bool found = false;
            for (int dy = -2; dy <= 2 && !found; dy++)
                for (int dx = -2; dx <= 2 && !found; dx++)
                {
                    ImageTransforms.Shift(data.Image(i), candidate, 1, 28, 28, dx, dy);
                    found = candidate.AsSpan().SequenceEqual(first.AsSpan(i * data.SampleSize, data.SampleSize));
                }
            Assert.True(found, $"batch image {i} is no shift of at most 2 px");
        }
    }

    [Fact]
    public void Pixel_permutation_is_a_seeded_bijection()
    {
        var p = ImageTransforms.PixelPermutation(28, 28, 42);
        Assert.Equal(Enumerable.Range(0, 784), p.Order());
        Assert.Equal(p, ImageTransforms.PixelPermutation(28, 28, 42));
        Assert.NotEqual(p, ImageTransforms.PixelPermutation(28, 28, 43));
        Assert.True(p.Where((v, i) => v != i).Count() > 700, "a shuffle moves almost every pixel");
        Assert.Throws<ArgumentException>(() => ImageTransforms.Permuted(fmnist.Test.Limit(20), [.. Enumerable.Repeat(0, 784)]));
    }

    [Fact]
    public void Permutation_study_applies_one_permutation_identically_to_train_validation_and_test()
    {
        var settings = new StudySettings { Seed = 11, Limit = 400 };
        var splits = StudySplits.Prepare(fmnist.Train, fmnist.Test, settings.TrainingFor(11));
        var extension = PermutationStudy.Define(DatasetCatalog.FashionMnistName).Extension!;
        var permutation = ImageTransforms.PixelPermutation(28, 28, 11);

        // Every seed of the run gets the same permutation (the run's --seed), every set the same one.
        foreach (int seed in new[] { 11, 12 })
        {
            var permuted = extension.SplitsFor(new StudyUnit("fmnist-mlp+permuted", seed, settings), splits);
            foreach (var (before, after) in new[] { (splits.Train, permuted.Train), (splits.Validation, permuted.Validation), (splits.Test, permuted.Test) })
            {
                Assert.Equal(before.Labels, after.Labels);
                for (int i = 0; i < before.Count; i++)
                    for (int p = 0; p < 784; p++)
                        Assert.True(before.Image(i)[permutation[p]] == after.Image(i)[p], $"{after.Name} image {i} position {p}");
            }
        }
        // The plain units train on the data as it is.
        Assert.Same(splits, extension.SplitsFor(new StudyUnit("fmnist-mlp", 11, settings), splits));

        // Colour images: one permutation of the positions, the same for the three channels.
        var rgb = new Dataset("rgb", Numbered(3, 2, 2), [0], ["a"], 3, 2, 2);
        var q = ImageTransforms.PixelPermutation(2, 2, 3);
        var moved = ImageTransforms.Permuted(rgb, q);
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < 4; p++) Assert.Equal(rgb.Images[ch * 4 + q[p]], moved.Images[ch * 4 + p]);
    }

    [Fact]
    public void Sample_size_subsets_are_stratified_seeded_and_nested()
    {
        var settings = new StudySettings();
        var splits = StudySplits.Prepare(fmnist.Train, fmnist.Test, settings.TrainingFor(settings.Seed));
        Assert.Equal(54_000, splits.Train.Count);
        var extension = SampleEfficiencyStudy.Define(DatasetCatalog.FashionMnistName).Extension!;
        int[] sizes = [1000, 2000, 5000, 10_000, 30_000];
        foreach (int seed in new[] { 42, 43 })
        {
            HashSet<int>? smaller = null;
            var order = ImageTransforms.NestedStratifiedOrder(splits.Train.Labels, 10, seed);
            Assert.Equal(Enumerable.Range(0, splits.Train.Count), order.Order());
            foreach (int size in sizes)
            {
                var subset = extension.SplitsFor(new StudyUnit($"fmnist-cnn+n{size}", seed, settings), splits);
                Assert.Same(splits.Validation, subset.Validation);
                Assert.Same(splits.Test, subset.Test);
                Assert.Equal(size, subset.Train.Count);
                foreach (int count in subset.Train.ClassCounts())
                    Assert.True(Math.Abs(count - size / 10.0) <= 1, $"seed {seed}, size {size}: a class has {count} images");
                var picked = order.Take(size).ToHashSet();
                // The subset is exactly those images (in the dataset's order).
                var expected = splits.Train.Select([.. picked.Order()]);
                Assert.Equal(expected.Images, subset.Train.Images);
                if (smaller is not null) Assert.True(smaller.IsSubsetOf(picked), $"seed {seed}: the {smaller.Count} subset is not inside the {size} one");
                smaller = picked;
            }
            Assert.Same(splits.Train, extension.SplitsFor(new StudyUnit("fmnist-cnn+all", seed, settings), splits).Train);
        }
        Assert.NotEqual(ImageTransforms.NestedStratifiedOrder(splits.Train.Labels, 10, 42).Take(1000).Order(),
                        ImageTransforms.NestedStratifiedOrder(splits.Train.Labels, 10, 43).Take(1000).Order());
    }

    [Fact]
    public void Sample_size_definition_drops_the_sizes_a_limit_leaves_no_room_for()
    {
        Assert.Equal(["fmnist-mlp+n1000", "fmnist-mlp+n2000", "fmnist-mlp+all", "fmnist-cnn+n1000", "fmnist-cnn+n2000", "fmnist-cnn+all"],
            SampleEfficiencyStudy.Define(DatasetCatalog.FashionMnistName, 2500).Models);
        // 2,200 images leave 1,980 for training after the 10 % validation split: no room for 2,000.
        Assert.Equal(["fmnist-mlp+n1000", "fmnist-mlp+all", "fmnist-cnn+n1000", "fmnist-cnn+all"],
            SampleEfficiencyStudy.Define(DatasetCatalog.FashionMnistName, 2200).Models);
        Assert.Equal(12, SampleEfficiencyStudy.Define(DatasetCatalog.Cifar10Name).Models.Count);
        // --models with a zoo name picks every size of that model.
        Assert.Equal(["fmnist-cnn+n1000", "fmnist-cnn+n2000", "fmnist-cnn+all"],
            SampleEfficiencyStudy.Define(DatasetCatalog.FashionMnistName, 2500).SelectModels(["fmnist-cnn"]));
    }

    [Fact]
    public void Curve_statistics_on_known_curves()
    {
        // Half-loss: 0.9 → chance 0.1 leaves 0.8 above chance; half is 0.5: crossed between 2 (0.6) and 3 (0.4), at 2.5.
        Assert.Equal(2.5, ShiftStudy.HalfLossShift([0.9, 0.8, 0.6, 0.4, 0.2], 0.1)!.Value, 12);
        Assert.Equal(1.0, ShiftStudy.HalfLossShift([0.9, 0.5, 0.4], 0.1)!.Value, 12);
        Assert.Null(ShiftStudy.HalfLossShift([0.9, 0.8, 0.7], 0.1));
        Assert.Null(ShiftStudy.HalfLossShift([0.1, 0.1], 0.1));
        // Area: trapezoids over 0..2 of (1, 0.5, 0) are 0.75 + 0.25 = 1, over a width of 2; of (1, 0.6, 0.6, 0.2): (0.8 + 0.6 + 0.4) / 3.
        Assert.Equal(0.5, ShiftStudy.Area([1.0, 0.5, 0.0]), 12);
        Assert.Equal(0.6, ShiftStudy.Area([1.0, 0.6, 0.6, 0.2]), 12);
        // Sample size: 0.7 at 1000, 0.8 at 10000 → 0.75 is reached half-way in log size, at √(1000 · 10000).
        Assert.Equal(Math.Sqrt(1e7), SampleEfficiencyStudy.SizeToReach([(1000, 0.7), (10_000, 0.8)], 0.75)!.Value, 6);
        Assert.Equal(1000, SampleEfficiencyStudy.SizeToReach([(1000, 0.7), (10_000, 0.8)], 0.6)!.Value);
        Assert.Null(SampleEfficiencyStudy.SizeToReach([(1000, 0.7), (10_000, 0.8)], 0.81));
        // The 95 % interval of (2, 3, 4): mean 3, std 1, t(2) = 4.303: 3 ± 2.484, so it holds 1 but not 0.
        var interval = SeedInterval.Of([2.0, 3.0, 4.0]);
        Assert.Equal(3 - 4.303 / Math.Sqrt(3), interval.Low, 9);
        Assert.Equal(3 + 4.303 / Math.Sqrt(3), interval.High, 9);
        Assert.True(interval.Contains(1.0));
        Assert.False(interval.Contains(0.0));
        Assert.False(SeedInterval.Of([1.0]).Contains(1.0));
    }
}
