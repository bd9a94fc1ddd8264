using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using NativeConv.Experiments.Serving;

namespace NativeConv.Tests.Serving;

/// <summary>A started prediction server and a client for it: in-process (ASP.NET Core's TestServer) or on real Kestrel at a loopback port.</summary>
internal sealed class ServeHarness : IAsyncDisposable
{
    private ServeHarness(PredictionServer server, HttpClient client)
    {
        Server = server;
        Client = client;
    }

    public PredictionServer Server { get; }

    public HttpClient Client { get; }

    public static ServeOptions Defaults => new() { Port = 0, RequestTimeout = TimeSpan.FromSeconds(20) };

    /// <summary>The server in-process: requests go through the whole ASP.NET Core pipeline without sockets.</summary>
    public static async Task<ServeHarness> InProcessAsync(IImageClassifier classifier, ServeOptions? options = null)
    {
        var server = PredictionServer.Create(classifier, options ?? Defaults, configureHost: host => host.UseTestServer());
        await server.StartAsync();
        return new ServeHarness(server, server.App.GetTestClient());
    }

    /// <summary>The server on Kestrel at 127.0.0.1 and a port the system picks.</summary>
    public static async Task<ServeHarness> KestrelAsync(IImageClassifier classifier, ServeOptions? options = null)
    {
        var server = PredictionServer.Create(classifier, options ?? Defaults);
        await server.StartAsync();
        var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        return new ServeHarness(server, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }

    public Task<HttpResponseMessage> PostImageAsync(byte[] image, string contentType, string query = "")
    {
        var content = new ByteArrayContent(image);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return Client.PostAsync("/v1/predict" + query, content);
    }

    public Task<HttpResponseMessage> PostFormAsync(byte[] image, string field = "image", string query = "")
    {
        var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(image);
        part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        form.Add(part, field, "upload.jpg");
        return Client.PostAsync("/v1/predict" + query, form);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
