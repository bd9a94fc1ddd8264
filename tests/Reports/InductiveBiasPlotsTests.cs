using System.Xml.Linq;
using NativeConv.Experiments.Reports;

namespace NativeConv.Tests.Reports;

/// <summary>The curves of the inductive-bias studies (sample efficiency: a log x axis of training-set sizes).</summary>
public sealed class InductiveBiasPlotsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "nativeconv-curves-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void A_log_x_axis_of_training_sizes_has_round_tick_labels()
    {
        // The sizes of a full Fashion-MNIST sample-efficiency run. Automatic ticks fell at even steps of log10(x) and were
        // labelled 1,585, 2,512, 3,981...; the axis now shows the 1-2-5 values of each decade.
        double[] sizes = [1000, 2000, 5000, 10_000, 30_000, 54_000];
        Directory.CreateDirectory(_root);
        string path = Path.Combine(_root, "sample-efficiency.svg");
        InductiveBiasPlots.Curves(path, "sizes", "training images (log scale)", "test accuracy (%)",
            [new CurveSeries("dense", sizes, [80, 82, 84, 86, 88, 89]), new CurveSeries("cnn", sizes, [78, 82, 86, 88, 90, 91], [1, 1, 1, 1, 1, 1])], logX: true);
        var texts = XDocument.Load(path).Descendants().Where(e => e.Name.LocalName == "text").Select(t => t.Value.Trim()).ToHashSet();
        foreach (string tick in new[] { "1,000", "2,000", "5,000", "10,000", "20,000", "50,000" })
            Assert.Contains(tick, texts);
        Assert.DoesNotContain(texts, t => t is "1,585" or "2,512" or "3,981" or "6,310" or "1,259" or "100,000");
        Assert.True(File.Exists(Path.ChangeExtension(path, ".png")));
    }

    [Fact]
    public void A_single_size_still_gets_labelled_ticks_around_it()
    {
        Directory.CreateDirectory(_root);
        string path = Path.Combine(_root, "one.svg");
        InductiveBiasPlots.Curves(path, "one size", "training images (log scale)", "test accuracy (%)",
            [new CurveSeries("dense", [540], [52.3]), new CurveSeries("cnn", [540], [50.2])], logX: true);
        var texts = XDocument.Load(path).Descendants().Where(e => e.Name.LocalName == "text").Select(t => t.Value.Trim()).ToList();
        Assert.Contains("500", texts);
        Assert.Contains("600", texts);
        Assert.DoesNotContain(texts, t => t is "631" or "794" or "63" or "5,012");
    }
}
