using NativeConv.Experiments.Data;

namespace NativeConv.Experiments.Studies;

/// <summary>Pixel statistics of one channel of a split: in the raw 0–255 scale and after the /255 normalisation.</summary>
public sealed record ChannelStatistics(string Channel, double RawMean, double RawStd, int RawMin, int RawMax,
    double NormalizedMean, double NormalizedStd, double NormalizedMin, double NormalizedMax);

/// <summary>Size, class balance and pixel statistics of one split.</summary>
public sealed record SplitStatistics(string Split, int Count, int[] ClassCounts, IReadOnlyList<ChannelStatistics> Channels);

/// <summary>What the eda command reports about a dataset.</summary>
public sealed record DatasetStatistics(string Dataset, int Channels, int Height, int Width, IReadOnlyList<string> ClassNames,
    SplitStatistics Train, SplitStatistics Test)
{
    public static DatasetStatistics Compute(string dataset, Dataset train, Dataset test) => new(
        dataset, train.Shape.C, train.Shape.H, train.Shape.W, train.ClassNames, Split("train", train), Split("test", test));

    /// <summary>
    /// Counts per class and per-channel pixel statistics (population std). The raw values are recovered exactly from the
    /// stored floats (b/255f round-trips through ×255 and rounding) and summed as integers; the normalised ones are the
    /// floats the models see, summed in double.
    /// </summary>
    public static SplitStatistics Split(string name, Dataset data)
    {
        var channels = new List<ChannelStatistics>();
        int plane = data.Shape.H * data.Shape.W;
        string[] channelNames = data.Shape.C == 3 ? ["red", "green", "blue"] : data.Shape.C == 1 ? ["gray"] : Enumerable.Range(0, data.Shape.C).Select(c => $"channel {c}").ToArray();
        for (int c = 0; c < data.Shape.C; c++)
        {
            long rawSum = 0, rawSquares = 0;
            int rawMin = int.MaxValue, rawMax = int.MinValue;
            double sum = 0, squares = 0;
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            for (int i = 0; i < data.Count; i++)
            {
                var pixels = data.Image(i).Slice(c * plane, plane);
                foreach (float p in pixels)
                {
                    int raw = (int)MathF.Round(p * 255f);
                    rawSum += raw;
                    rawSquares += raw * raw;
                    rawMin = Math.Min(rawMin, raw);
                    rawMax = Math.Max(rawMax, raw);
                    sum += p;
                    squares += (double)p * p;
                    min = MathF.Min(min, p);
                    max = MathF.Max(max, p);
                }
            }
            double n = (double)data.Count * plane;
            double rawMean = rawSum / n, mean = sum / n;
            channels.Add(new ChannelStatistics(channelNames[c], rawMean, Math.Sqrt(Math.Max(0, rawSquares / n - rawMean * rawMean)), rawMin, rawMax,
                mean, Math.Sqrt(Math.Max(0, squares / n - mean * mean)), min, max));
        }
        return new SplitStatistics(name, data.Count, data.ClassCounts(), channels);
    }
}
