using System.Net;
using NativeConv.Experiments.Serving;
using NativeConv.Layers;
using SkiaSharp;

namespace NativeConv.Tests.Serving;

/// <summary>
/// The server over a real trained model (fmnist-cnn trained for a few steps on real Fashion-MNIST, read back from its
/// checkpoint by <see cref="TrainedModel"/>): its answers are the model's own output for the same image, alone or batched.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the shared trained model runs the Trainer (Engine.Threads)
public sealed class ServeModelTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static (TrainedModelClassifier Classifier, TrainedFashionCnn Trained) Open(long maxImagePixels = 4096 * 4096)
    {
        var trained = TrainedFashionCnn.Instance;
        return (new TrainedModelClassifier(TrainedModel.Open(trained.CheckpointPath), maxImagePixels), trained);
    }

    private static byte[] TestImage(TrainedFashionCnn trained, int index, SKEncodedImageFormat format = SKEncodedImageFormat.Png) =>
        TestImages.Encode(trained.Test.Images.AsSpan(index * 784, 784), 1, 28, 28, format);

    /// <summary>The classifier's own probabilities for the image, one forward of batch 1, without the server.</summary>
    private static float[] Direct(TrainedModelClassifier classifier, byte[] image)
    {
        var sample = new float[classifier.Info.InputLength];
        classifier.Decode(image, "test", sample);
        var probabilities = new float[classifier.Info.ClassCount];
        classifier.Classify(sample, 1, probabilities);
        return probabilities;
    }

    [Fact]
    public async Task One_request_at_a_time_answers_exactly_the_model_output_and_its_class()
    {
        var (classifier, trained) = Open();
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        for (int i = 0; i < 12; i++)
        {
            var format = i % 4 == 3 ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png;
            byte[] image = TestImage(trained, 500 + i, format);
            var response = await harness.PostImageAsync(image, format == SKEncodedImageFormat.Png ? "image/png" : "image/jpeg");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = await ServeHarness.JsonAsync(response);
            Assert.Equal("fmnist-cnn", answer.GetProperty("model").GetString());
            ServeApiTests.AssertPredictions(Direct(classifier, image), classifier.Info.ClassNames, answer, top: 10);
            if (format == SKEncodedImageFormat.Png)
            {
                // PNG is lossless: the served class is the class of the model's forward on the test tensor itself.
                var logits = TrainedFashionCnn.ReferenceLogits(trained.Model, trained.Test, 500 + i, 1);
                Assert.Equal(TrainedModel.ArgMax(logits), answer.GetProperty("predictions")[0].GetProperty("index").GetInt32());
            }
        }
    }

    [Fact]
    public async Task Concurrent_requests_batched_together_answer_what_each_image_gets_alone()
    {
        const int requests = 32;
        var (classifier, trained) = Open();
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { MaxWait = TimeSpan.FromMilliseconds(20) });
        var images = Enumerable.Range(0, requests).Select(i => TestImage(trained, 1000 + i)).ToArray();
        await harness.PostImageAsync(images[0], "image/png"); // warm-up
        long before = harness.Server.Batcher.Forwards;
        var responses = await Task.WhenAll(images.Select(image => harness.PostImageAsync(image, "image/png"))).WaitAsync(Wait);
        long forwards = harness.Server.Batcher.Forwards - before;
        Assert.True(forwards < requests, $"{requests} concurrent requests took {forwards} forwards");
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            var expected = Direct(classifier, images[i]);
            var predictions = (await ServeHarness.JsonAsync(responses[i])).GetProperty("predictions").EnumerateArray().ToArray();
            Assert.Equal(10, predictions.Length);
            // In a batch the GEMMs may block differently than for one image: the same numbers up to rounding.
            Assert.Equal(TrainedModel.ArgMax(expected), predictions[0].GetProperty("index").GetInt32());
            foreach (var p in predictions)
                Assert.Equal(expected[p.GetProperty("index").GetInt32()], p.GetProperty("probability").GetSingle(), 1e-5f);
        }
    }

    [Fact]
    public async Task Model_reports_the_checkpoints_architecture_and_parameters()
    {
        var (classifier, trained) = Open();
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        var model = await ServeHarness.JsonAsync(await harness.Client.GetAsync("/v1/model"));
        Assert.Equal("fmnist-cnn", model.GetProperty("model").GetString());
        Assert.Equal("fashion-mnist", model.GetProperty("dataset").GetString());
        Assert.Equal(trained.Model.ParameterCount, model.GetProperty("parameters").GetInt64());
        var rows = ModelSummary.Rows(trained.Model, ModelZoo.BatchInputShape("fmnist-cnn", 1));
        var layers = model.GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(rows.Select(r => r.Name), layers.Select(l => l.GetProperty("name").GetString()));
        Assert.Equal(rows.Select(r => r.FormatShape("null").Replace(" ", "").Replace("(", "[").Replace(")", "]")),
            layers.Select(l => l.GetProperty("output_shape").GetRawText()));
        Assert.Equal(rows.Sum(r => r.Parameters), layers.Sum(l => l.GetProperty("parameters").GetInt64()));
        Assert.Contains("inverted when its border is light", model.GetProperty("preprocessing").GetString());
    }

    [Fact]
    public async Task An_image_over_the_pixel_limit_is_400_before_it_is_decoded()
    {
        var (classifier, _) = Open(maxImagePixels: 10_000);
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        byte[] large = ServeImages.Png(1, size: 101); // 10,201 pixels
        await ServeApiTests.AssertErrorAsync(await harness.PostImageAsync(large, "image/png"), HttpStatusCode.BadRequest,
            "101×101, more than the 10,000 pixels");
        Assert.Equal(HttpStatusCode.OK, (await harness.PostImageAsync(ServeImages.Png(1, size: 100), "image/png")).StatusCode);
    }
}
