using System.Text.Json;
using NativeConv.Tests.Support;
using SkiaSharp;

namespace NativeConv.Tests.Reports;

/// <summary>A study on a real subset through the command line leaves the CNN's pictures, the diagrams and the machine load.</summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the studies set Engine.Threads
public sealed class StudyPicturesTests() : StudyRunsRoot("nativeconv-study-pictures-")
{
    [Fact]
    public void A_study_writes_pictures_of_its_cnn_for_the_first_seed_and_diagrams_of_every_model()
    {
        var (code, output, error) = Cli.Run(Study("fmnist", "--limit", "600", "--epochs", "1", "--seeds", "2"));
        Assert.True(code == 0, error + output);
        string folder = Directory.GetDirectories(Root, "fmnist-*").Single();

        foreach (string file in new[] { "filters-fmnist-cnn.png", "feature-maps-fmnist-cnn.png", "confusion-fmnist-cnn.png" })
        {
            using var bitmap = SKBitmap.Decode(Path.Combine(folder, file));
            Assert.True(bitmap is { Width: > 300, Height: > 200 }, file);
        }
        // The MLP has no convolution: only its learning curves; and pictures come from the first seed only.
        Assert.DoesNotContain(Directory.GetFiles(folder, "*fmnist-mlp.png"), f => !Path.GetFileName(f).StartsWith("curves-", StringComparison.Ordinal));
        Assert.Equal(["confusion-fmnist-cnn.png", "feature-maps-fmnist-cnn.png", "filters-fmnist-cnn.png"],
            Directory.GetFiles(folder, "*.png").Select(Path.GetFileName).Where(f => !f!.StartsWith("curves-", StringComparison.Ordinal) && f.Contains("fmnist")).Order());

        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("![fmnist-cnn: first-layer filters, at initialisation and after training](filters-fmnist-cnn.png)", report);
        Assert.Contains("![fmnist-cnn: test confusion matrix and the most-confused pairs](confusion-fmnist-cnn.png)", report);
        Assert.Contains("![validation accuracy per epoch](validation-accuracy.png)", report);
        Assert.Equal(2, report.Split("```mermaid").Length - 1);
        Assert.Contains("n8[\"dense1: Dense 1568→128<br/>(N, 128)<br/>200,832 params\"]", report);
        Assert.Contains("Machine load: CPU time ", report);
        Assert.Contains(" on 2 thread(s) ", report);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var cpu = json.RootElement.GetProperty("cpu_usage");
        Assert.Equal(2, cpu.GetProperty("threads").GetInt32());
        Assert.True(cpu.GetProperty("wall_seconds").GetDouble() > 0);
        Assert.True(cpu.GetProperty("process_cpu_seconds").GetDouble() > 0);
        Assert.Contains(cpu.GetProperty("busy").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        // Redirected output (not a terminal): a study line per epoch with the unit's place in the study.
        Assert.Contains("fmnist-cnn: model 2/2, seed 43 (2/2); study ", output);
    }
}
