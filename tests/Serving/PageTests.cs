using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Playwright;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;

namespace NativeConv.Tests.Serving;

/// <summary>
/// The page at / in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium; Playwright's own browser
/// download is not used) against the server on Kestrel with a fresh seeded fmnist-cnn read back by the real loader.
/// Skipped, with the reason, where chromium is not installed (.ci/run installs it).
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // one browser at a time; the model's forwards run beside no engine-settings test
public sealed class PageTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly float Timeout = 60_000;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-page-" + Guid.NewGuid().ToString("N"));
    private TrainedModelClassifier _classifier = null!;
    private ServeHarness _harness = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    [DllImport("libc")]
    private static extern uint geteuid();

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Chromium))
            Assert.Skip($"{Chromium} is not installed: apt-get install -y chromium (.ci/run does it as root) to test the page in a browser.");
        Directory.CreateDirectory(_folder);
        string weights = Path.Combine(_folder, "fmnist-cnn.safetensors");
        Checkpoint.SaveWeights(weights, ModelZoo.Create("fmnist-cnn", seed: 5));
        _classifier = new TrainedModelClassifier(TrainedModel.Open(weights));
        _harness = await ServeHarness.KestrelAsync(_classifier);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // Chromium's sandbox refuses to run as root (CI containers): only then without it.
            Args = OperatingSystem.IsLinux() && geteuid() == 0 ? ["--no-sandbox"] : [],
            Timeout = Timeout,
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        if (_harness is not null) await _harness.DisposeAsync();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private async Task<IPage> OpenPageAsync()
    {
        var page = await _browser.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        await page.GotoAsync(_harness.Server.Address.ToString());
        // The model line is filled from GET /v1/model.
        await page.WaitForFunctionAsync("() => document.body.dataset.model === 'fmnist-cnn'");
        return page;
    }

    private static async Task<(int Index, string Label, float Probability)[]> ShownPredictionsAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => document.body.dataset.state === 'done' && document.querySelectorAll('#predictions li').length === 3");
        var items = await page.QuerySelectorAllAsync("#predictions li");
        var shown = new (int, string, float)[items.Count];
        for (int i = 0; i < items.Count; i++)
            shown[i] = (int.Parse((await items[i].GetAttributeAsync("data-index"))!, CultureInfo.InvariantCulture),
                        (await items[i].GetAttributeAsync("data-label"))!,
                        float.Parse((await items[i].GetAttributeAsync("data-probability"))!, CultureInfo.InvariantCulture));
        return shown;
    }

    [Fact]
    public async Task An_uploaded_image_shows_the_models_top_3_with_their_probabilities()
    {
        var page = await OpenPageAsync();
        Assert.Contains("fmnist-cnn", await page.InnerTextAsync("#model"));
        Assert.Contains("206,922 parameters", await page.InnerTextAsync("#model"));

        byte[] image = ServeImages.Png(17, size: 56);
        string path = Path.Combine(_folder, "garment.png");
        await File.WriteAllBytesAsync(path, image);
        await page.SetInputFilesAsync("#file", path);
        var shown = await ShownPredictionsAsync(page);

        // What the classifier itself gives this image (one forward of batch 1, as the lone request got).
        var sample = new float[_classifier.Info.InputLength];
        _classifier.Decode(image, "test", sample);
        var expected = new float[_classifier.Info.ClassCount];
        _classifier.Classify(sample, 1, expected);
        var top3 = Enumerable.Range(0, expected.Length).OrderByDescending(i => expected[i]).ThenBy(i => i).Take(3).ToArray();
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(top3[r], shown[r].Index);
            Assert.Equal(_classifier.Info.ClassNames[top3[r]], shown[r].Label);
            Assert.Equal(expected[top3[r]], shown[r].Probability);
        }

        // The bars and the percentages say the same.
        var first = page.Locator("#predictions li").First;
        Assert.Equal((100 * expected[top3[0]]).ToString("F1", CultureInfo.InvariantCulture) + " %", await first.Locator(".probability").InnerTextAsync());
        string width = await first.Locator(".bar > div").EvaluateAsync<string>("e => e.style.width");
        Assert.Equal(100 * expected[top3[0]], float.Parse(width.TrimEnd('%'), CultureInfo.InvariantCulture), 0.01f);
        Assert.Equal(_classifier.Info.ClassNames[top3[0]], await first.Locator(".label").InnerTextAsync());
    }

    [Fact]
    public async Task A_drawing_on_the_canvas_is_classified_and_shown()
    {
        var page = await OpenPageAsync();
        var pad = await page.QuerySelectorAsync("#pad");
        var box = (await pad!.BoundingBoxAsync())!;
        var answered = page.WaitForResponseAsync(r => r.Url.Contains("/v1/predict"));
        // A garment-like stroke: down, a few moves, up (the page classifies on pointer up).
        await page.Mouse.MoveAsync(box.X + box.Width * 0.3f, box.Y + box.Height * 0.2f);
        await page.Mouse.DownAsync();
        foreach (var (fx, fy) in new[] { (0.7f, 0.2f), (0.7f, 0.8f), (0.3f, 0.8f), (0.3f, 0.2f) })
            await page.Mouse.MoveAsync(box.X + box.Width * fx, box.Y + box.Height * fy, new MouseMoveOptions { Steps = 5 });
        await page.Mouse.UpAsync();

        var response = await answered;
        Assert.Equal(200, response.Status);
        using var json = JsonDocument.Parse(await response.TextAsync());
        var served = json.RootElement.GetProperty("predictions").EnumerateArray().ToArray();
        var shown = await ShownPredictionsAsync(page);
        Assert.Equal(3, served.Length);
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(served[r].GetProperty("index").GetInt32(), shown[r].Index);
            Assert.Equal(served[r].GetProperty("probability").GetSingle(), shown[r].Probability);
        }
        Assert.True(shown[0].Probability >= shown[1].Probability && shown[1].Probability >= shown[2].Probability);
        Assert.Equal(1, _harness.Server.Batcher.Classified);
    }

    [Fact]
    public async Task A_file_that_is_not_an_image_shows_the_servers_reason()
    {
        var page = await OpenPageAsync();
        string path = Path.Combine(_folder, "notes.png");
        await File.WriteAllTextAsync(path, "these are not pixels");
        await page.SetInputFilesAsync("#file", path);
        await page.WaitForFunctionAsync("() => document.body.dataset.state === 'error'");
        string error = await page.InnerTextAsync("#error");
        Assert.Contains("notes.png", error);
        Assert.Contains("not a PNG, JPEG or BMP image", error);
        Assert.Equal(0, await page.Locator("#predictions li").CountAsync());
    }
}
