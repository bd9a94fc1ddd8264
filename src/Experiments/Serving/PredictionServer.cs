using System.Diagnostics;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// The prediction server: an ASP.NET Core minimal API over a <see cref="MicroBatcher"/>.
/// <list type="bullet">
/// <item>POST /v1/predict — an image (raw body, or multipart field `image`) → every class (or `?top=k`) by probability;</item>
/// <item>GET /v1/model — the architecture, parameter count, test accuracy and batching settings;</item>
/// <item>GET /healthz — 200 while serving, 503 once a shutdown began;</item>
/// <item>GET / — the page (drop, pick or draw an image; see the top-3 bars).</item>
/// </list>
/// Errors answer a status code and {"error": "one line"}: 400 bad input or `top`, 413 too large, 415 wrong content type,
/// 503 queue full, 504 timed out, 500 anything else (the process goes on). The host is built empty (no configuration
/// files, no environment variables, no logging): every setting comes from <see cref="ServeOptions"/>. A shutdown (SIGTERM,
/// Ctrl-C, <see cref="DisposeAsync"/>) stops accepting connections, lets in-flight requests finish (up to
/// <see cref="ServeOptions.ShutdownTimeout"/>), then drains the batcher.
/// </summary>
public sealed class PredictionServer : IAsyncDisposable
{
    private const string PageResource = "NativeConv.Experiments.Serving.index.html";

    private readonly IImageClassifier _classifier;
    private readonly ServeOptions _options;
    private readonly TextWriter? _log;
    private readonly byte[] _page;
    private readonly SemaphoreSlim _decodeSlots = new(Environment.ProcessorCount);
    private int _disposed;

    private PredictionServer(WebApplication app, IImageClassifier classifier, ServeOptions options, TextWriter? log)
    {
        App = app;
        _classifier = classifier;
        _options = options;
        _log = log;
        _page = LoadPage();
        Batcher = new MicroBatcher(classifier, options.MaxBatch, options.MaxWait, options.QueueCapacity);
        Map(app);
    }

    /// <summary>The ASP.NET Core application (tests reach its test server or services through it).</summary>
    public WebApplication App { get; }

    /// <summary>The batching worker (its counters: forwards, samples, dropped).</summary>
    public MicroBatcher Batcher { get; }

    /// <summary>
    /// Builds the server on Kestrel at <see cref="ServeOptions.Address"/>:<see cref="ServeOptions.Port"/>.
    /// <paramref name="configureHost"/> may change the host before it is built (tests: UseTestServer() for an in-process
    /// server); <paramref name="log"/> (if given) gets one line per internal error.
    /// </summary>
    public static PredictionServer Create(IImageClassifier classifier, ServeOptions options, TextWriter? log = null,
        Action<IWebHostBuilder>? configureHost = null)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(PredictionServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(options.Address, options.Port);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        configureHost?.Invoke(builder.WebHost);
        return new PredictionServer(builder.Build(), classifier, options, log);
    }

    /// <summary>Starts listening (a port taken → <see cref="IOException"/> naming the address).</summary>
    public Task StartAsync(CancellationToken cancellation = default) => App.StartAsync(cancellation);

    /// <summary>The address Kestrel listens on, once started ("http://127.0.0.1:8080"); with port 0, the port it got.</summary>
    public Uri Address =>
        App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() is { } address
            ? new Uri(address)
            : throw new InvalidOperationException("the server has no address (not started, or not on Kestrel)");

    /// <summary>Stops gracefully (in-flight requests finish), drains the batcher, releases the host.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            await App.StopAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // never started: nothing to stop
        }
        await Batcher.DisposeAsync().ConfigureAwait(false);
        await App.DisposeAsync().ConfigureAwait(false);
    }

    private static byte[] LoadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(PageResource)
            ?? throw new InvalidOperationException($"the page resource {PageResource} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private void Map(WebApplication app)
    {
        var stopping = app.Lifetime.ApplicationStopping;
        // Nothing a request does ends the process: an exception no endpoint expected answers 500 with its message.
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                _log?.WriteLine($"serve: {context.Request.Method} {context.Request.Path}: {e.GetType().Name}: {e.Message}");
                await Results.Json(new ErrorResponse($"internal error: {e.Message}"), ServeJson.Options, statusCode: StatusCodes.Status500InternalServerError)
                    .ExecuteAsync(context).ConfigureAwait(false);
            }
        });

        app.MapGet("/", () => Results.Bytes(_page, "text/html; charset=utf-8"));
        app.MapGet("/healthz", () => stopping.IsCancellationRequested
            ? Results.Json(new HealthResponse("stopping"), ServeJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new HealthResponse("ready"), ServeJson.Options));
        app.MapGet("/v1/model", DescribeModel);
        // A Delegate (not a RequestDelegate), so the IResult it returns is written.
        app.MapPost("/v1/predict", (Delegate)PredictAsync);
    }

    private IResult DescribeModel()
    {
        var info = _classifier.Info;
        return Results.Json(new ModelResponse(
            info.Name, info.Dataset, [info.Channels, info.Height, info.Width], info.ClassNames, info.ParameterCount, info.TestAccuracy,
            info.Layers, info.Preprocessing,
            new BatchingResponse(_options.MaxBatch, _options.MaxWait.TotalMilliseconds, Batcher.Forwards, Batcher.Classified, Batcher.Dropped)),
            ServeJson.Options);
    }

    private async Task<IResult> PredictAsync(HttpContext context)
    {
        long started = Stopwatch.GetTimestamp();
        using var ticket = Batcher.Enter();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(_options.RequestTimeout);
        var info = _classifier.Info;
        try
        {
            int top = PredictRequest.ParseTop(context.Request.Query, info.ClassCount);
            var (image, source) = await PredictRequest.ReadImageAsync(context.Request, _options.MaxBodyBytes, timeout.Token).ConfigureAwait(false);
            var sample = new float[info.InputLength];
            // At most one decode per core at a time: decoding is CPU work, and each one holds the full-size image's pixels.
            await _decodeSlots.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                _classifier.Decode(image, source, sample);
            }
            catch (ImageDecodeException e)
            {
                return Error(StatusCodes.Status400BadRequest, e.Message);
            }
            finally
            {
                _decodeSlots.Release();
            }
            float[] probabilities = await Batcher.ClassifyAsync(sample, timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
            var predictions = ServeJson.Rank(probabilities, info.ClassNames, top);
            double ms = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
            return Results.Json(new PredictResponse(info.Name, predictions, ms), ServeJson.Options);
        }
        catch (PredictRequestException e)
        {
            // Refused before its body was read to the end (bad top, content type, size, ...): the rest of the body is
            // still on the connection, and Kestrel aborts the connection when a body over the limit cannot be drained,
            // so the client is told not to reuse it.
            context.Response.Headers.Connection = "close";
            return Error(e.StatusCode, e.Message);
        }
        catch (ServerBusyException e)
        {
            context.Response.Headers.RetryAfter = "1";
            return Error(StatusCodes.Status503ServiceUnavailable, e.Message);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            return Error(StatusCodes.Status504GatewayTimeout,
                $"the request timed out after {_options.RequestTimeout.TotalMilliseconds:0} ms and was cancelled");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty; // the client is gone: nobody reads an answer
        }
    }

    private static IResult Error(int statusCode, string message) =>
        Results.Json(new ErrorResponse(message), ServeJson.Options, statusCode: statusCode);
}
