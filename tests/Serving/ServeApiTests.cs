using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using NativeConv.Experiments.Serving;

namespace NativeConv.Tests.Serving;

/// <summary>
/// The prediction API in-process (ASP.NET Core's TestServer, the whole pipeline without sockets) over a deterministic test
/// classifier: answers equal to the classifier's own output, every status code, micro-batching, timeouts.
/// </summary>
public sealed class ServeApiTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Healthz_answers_ready()
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        var response = await harness.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ready", (await ServeHarness.JsonAsync(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Model_describes_architecture_parameters_accuracy_and_batching()
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { MaxBatch = 7 });
        var response = await harness.Client.GetAsync("/v1/model");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var model = await ServeHarness.JsonAsync(response);
        Assert.Equal("test-model", model.GetProperty("model").GetString());
        Assert.Equal("synthetic", model.GetProperty("dataset").GetString());
        Assert.Equal([1, 4, 4], model.GetProperty("input").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["zero", "one", "two", "three"], model.GetProperty("classes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(68, model.GetProperty("parameters").GetInt64());
        Assert.Equal(0.875, model.GetProperty("test_accuracy").GetDouble());
        var layer = Assert.Single(model.GetProperty("layers").EnumerateArray());
        Assert.Equal("dense", layer.GetProperty("name").GetString());
        Assert.Equal("[null,4]", layer.GetProperty("output_shape").GetRawText());
        Assert.Equal(7, model.GetProperty("batching").GetProperty("max_batch").GetInt32());
    }

    [Fact]
    public async Task Page_is_served_at_the_root_without_external_resources()
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        var response = await harness.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("/v1/predict", html);
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
    }

    public static TheoryData<string> Formats => ["png", "jpeg", "bmp", "form"];

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Predict_answers_every_class_by_probability_equal_to_the_classifier(string format)
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        for (int seed = 0; seed < 4; seed++)
        {
            byte[] image = format switch
            {
                "png" => ServeImages.Png(seed),
                "bmp" => ServeImages.Bmp(seed),
                _ => ServeImages.Jpeg(seed),
            };
            var response = format == "form"
                ? await harness.PostFormAsync(image)
                : await harness.PostImageAsync(image, "image/" + format);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = await ServeHarness.JsonAsync(response);
            Assert.Equal("test-model", answer.GetProperty("model").GetString());
            Assert.True(answer.GetProperty("ms").GetDouble() >= 0);
            AssertPredictions(classifier.Expected(image), classifier.Info.ClassNames, answer, top: 4);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Predict_top_k_answers_the_k_most_probable(int top)
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        byte[] image = ServeImages.Png(11);
        var response = await harness.PostImageAsync(image, "image/png", $"?top={top}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertPredictions(classifier.Expected(image), classifier.Info.ClassNames, await ServeHarness.JsonAsync(response), top);
    }

    [Theory]
    [InlineData("?top=0")]
    [InlineData("?top=5")]
    [InlineData("?top=-1")]
    [InlineData("?top=two")]
    [InlineData("?top=")]
    [InlineData("?top=1&top=2")]
    [InlineData("?top=99999999999")]
    public async Task Predict_with_a_bad_top_is_400(string query)
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        var response = await harness.PostImageAsync(ServeImages.Png(1), "image/png", query);
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "top must be an integer from 1 to 4");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/octet-stream")]
    [InlineData("image/gif")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task Predict_with_a_wrong_content_type_is_415(string contentType)
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        var response = await harness.PostImageAsync(ServeImages.Png(1), contentType);
        await AssertErrorAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type must be image/png");
    }

    [Fact]
    public async Task Predict_without_a_content_type_is_415()
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        var content = new ByteArrayContent(ServeImages.Png(1));
        var response = await harness.Client.PostAsync("/v1/predict", content);
        await AssertErrorAsync(response, HttpStatusCode.UnsupportedMediaType, "(got none)");
    }

    [Fact]
    public async Task Predict_with_bytes_that_are_not_an_image_is_400_with_the_reason()
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        var response = await harness.PostImageAsync("this is not a PNG"u8.ToArray(), "image/png");
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "not a PNG, JPEG or BMP image");
        byte[] truncated = ServeImages.Png(3)[..20];
        await AssertErrorAsync(await harness.PostImageAsync(truncated, "image/png"), HttpStatusCode.BadRequest, "");
        Assert.Empty(classifier.BatchSizes); // nothing undecodable reaches the model
    }

    [Fact]
    public async Task Predict_with_an_empty_body_is_400()
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        await AssertErrorAsync(await harness.PostImageAsync([], "image/png"), HttpStatusCode.BadRequest, "empty");
    }

    [Fact]
    public async Task Predict_form_without_an_image_field_is_400()
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        var response = await harness.PostFormAsync(ServeImages.Png(1), field: "picture");
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "without a field 'image'");
    }

    [Fact]
    public async Task Predict_form_without_a_boundary_or_malformed_is_400()
    {
        await using var harness = await ServeHarness.InProcessAsync(new ServeTestClassifier());
        await AssertErrorAsync(await harness.PostImageAsync(ServeImages.Png(1), "multipart/form-data"), HttpStatusCode.BadRequest, "boundary");
        var malformed = await harness.PostImageAsync("--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc"u8.ToArray(),
            "multipart/form-data; boundary=xyz");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    public async Task Predict_over_the_size_limit_is_413_with_or_without_a_content_length()
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { MaxBodyBytes = 1000 });
        byte[] large = ServeImages.NoisePng(5, size: 64);
        Assert.True(large.Length > 1000);
        await AssertErrorAsync(await harness.PostImageAsync(large, "image/png"), HttpStatusCode.RequestEntityTooLarge, "larger than the limit of 1000 bytes");

        // Chunked (no Content-Length): refused while counting.
        var chunked = new StreamContent(new MemoryStream(large));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/predict") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        await AssertErrorAsync(await harness.Client.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, "larger than the limit");

        // At the limit it is read.
        byte[] small = ServeImages.Png(5, size: 8);
        Assert.True(small.Length <= 1000);
        Assert.Equal(HttpStatusCode.OK, (await harness.PostImageAsync(small, "image/png")).StatusCode);
        Assert.Single(classifier.BatchSizes);
    }

    [Fact]
    public async Task A_failing_forward_is_500_and_the_server_goes_on()
    {
        var classifier = new ServeTestClassifier { Failure = new InvalidOperationException("the model broke") };
        await using var harness = await ServeHarness.InProcessAsync(classifier);
        await AssertErrorAsync(await harness.PostImageAsync(ServeImages.Png(1), "image/png"), HttpStatusCode.InternalServerError, "the model broke");
        classifier.Failure = null;
        Assert.Equal(HttpStatusCode.OK, (await harness.PostImageAsync(ServeImages.Png(1), "image/png")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await harness.Client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_requests_share_forwards_and_each_gets_its_own_answer()
    {
        const int requests = 24;
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { MaxBatch = 32 });
        // Hold the first forward until every request is in the server, so the rest queue up behind it.
        classifier.Hold();
        var images = Enumerable.Range(0, requests).Select(i => ServeImages.Png(100 + i)).ToArray();
        var sent = images.Select(image => harness.PostImageAsync(image, "image/png")).ToArray();
        await classifier.WaitForForwardAsync(Wait);
        await WaitUntilAsync(() => harness.Server.Batcher.InServer == requests);
        await Task.Delay(200); // the requests still decoding reach the queue
        classifier.Release();
        var responses = await Task.WhenAll(sent);

        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            AssertPredictions(classifier.Expected(images[i]), classifier.Info.ClassNames, await ServeHarness.JsonAsync(responses[i]), top: 4);
        }
        long forwards = harness.Server.Batcher.Forwards;
        Assert.True(forwards < requests, $"{requests} concurrent requests took {forwards} forwards");
        Assert.True(forwards <= 3, $"expected the held forward and one or two batches, got {forwards}: {string.Join(",", classifier.BatchSizes)}");
        Assert.Equal(requests, classifier.BatchSizes.Sum());
        Assert.Equal(requests, harness.Server.Batcher.Classified);
    }

    [Fact]
    public async Task A_batch_never_exceeds_the_largest_batch()
    {
        const int requests = 20;
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { MaxBatch = 6 });
        classifier.Hold();
        var sent = Enumerable.Range(0, requests).Select(i => harness.PostImageAsync(ServeImages.Png(i), "image/png")).ToArray();
        await classifier.WaitForForwardAsync(Wait);
        await WaitUntilAsync(() => harness.Server.Batcher.InServer == requests);
        await Task.Delay(200);
        classifier.Release();
        Assert.All(await Task.WhenAll(sent), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(classifier.BatchSizes, size => Assert.InRange(size, 1, 6));
        Assert.Equal(requests, classifier.BatchSizes.Sum());
        Assert.True(classifier.BatchSizes.Count(size => size == 6) >= 2, string.Join(",", classifier.BatchSizes));
    }

    [Fact]
    public async Task A_lone_client_does_not_wait_for_a_batch_to_fill()
    {
        var classifier = new ServeTestClassifier();
        // A long MaxWait: a lone request that paid it would take half a second.
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { MaxWait = TimeSpan.FromMilliseconds(500) });
        await harness.PostImageAsync(ServeImages.Png(1), "image/png"); // warm-up
        for (int i = 0; i < 5; i++)
        {
            var response = await harness.PostImageAsync(ServeImages.Png(i), "image/png");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            double ms = (await ServeHarness.JsonAsync(response)).GetProperty("ms").GetDouble();
            Assert.True(ms < 400, $"a lone request took {ms} ms: it waited for a batch that could not fill");
        }
        Assert.Equal(6, harness.Server.Batcher.Forwards);
    }

    [Fact]
    public async Task A_request_that_times_out_is_504_and_dropped_from_its_batch_if_not_run_yet()
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier,
            ServeHarness.Defaults with { RequestTimeout = TimeSpan.FromMilliseconds(300), MaxWait = TimeSpan.Zero });
        classifier.Hold();
        var running = harness.PostImageAsync(ServeImages.Png(1), "image/png");
        await classifier.WaitForForwardAsync(Wait);   // the first request's forward is running (held)
        var queued = harness.PostImageAsync(ServeImages.Png(2), "image/png"); // waits in the queue behind it
        await AssertErrorAsync(await queued, HttpStatusCode.GatewayTimeout, "timed out after 300 ms");
        await AssertErrorAsync(await running, HttpStatusCode.GatewayTimeout, "timed out");
        classifier.Release();

        // The held forward ends; the queued request, cancelled, is dropped instead of classified.
        await WaitUntilAsync(() => harness.Server.Batcher.Dropped == 1);
        Assert.Equal(1, harness.Server.Batcher.Classified);
        Assert.Equal([1], classifier.BatchSizes);
        // The server goes on.
        Assert.Equal(HttpStatusCode.OK, (await harness.PostImageAsync(ServeImages.Png(3), "image/png")).StatusCode);
    }

    [Fact]
    public async Task A_full_queue_is_503_with_retry_after()
    {
        var classifier = new ServeTestClassifier();
        await using var harness = await ServeHarness.InProcessAsync(classifier, ServeHarness.Defaults with { QueueCapacity = 1, MaxWait = TimeSpan.Zero });
        classifier.Hold();
        var running = harness.PostImageAsync(ServeImages.Png(1), "image/png");
        await classifier.WaitForForwardAsync(Wait);
        var queued = harness.PostImageAsync(ServeImages.Png(2), "image/png");
        await WaitUntilAsync(() => harness.Server.Batcher.InServer == 2);
        await Task.Delay(100);
        var refused = await harness.PostImageAsync(ServeImages.Png(3), "image/png");
        await AssertErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        classifier.Release();
        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await queued).StatusCode);
    }

    // ---------------------------------------------------------------- helpers

    internal static void AssertPredictions(float[] expected, IReadOnlyList<string> labels, JsonElement answer, int top)
    {
        var predictions = answer.GetProperty("predictions").EnumerateArray().ToArray();
        Assert.Equal(top, predictions.Length);
        var order = Enumerable.Range(0, expected.Length).OrderByDescending(i => expected[i]).ThenBy(i => i).Take(top).ToArray();
        for (int r = 0; r < top; r++)
        {
            int index = predictions[r].GetProperty("index").GetInt32();
            Assert.Equal(order[r], index);
            Assert.Equal(labels[index], predictions[r].GetProperty("label").GetString());
            Assert.Equal(expected[index], predictions[r].GetProperty("probability").GetSingle());
        }
    }

    internal static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string messagePart)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        using var document = JsonDocument.Parse(body);
        string message = document.RootElement.GetProperty("error").GetString()!;
        Assert.Contains(messagePart, message);
        Assert.DoesNotContain('\n', message);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the condition did not become true");
            await Task.Delay(10);
        }
    }
}
