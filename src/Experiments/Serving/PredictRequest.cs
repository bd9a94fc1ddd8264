using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace NativeConv.Experiments.Serving;

/// <summary>
/// Reading POST /v1/predict: the `top` query, the content type, the body within its size limit, and the image inside a
/// raw body or a multipart form. Each problem is a <see cref="PredictRequestException"/> carrying the status code and a
/// one-line message.
/// </summary>
internal static class PredictRequest
{
    /// <summary>The raw-body content types accepted (with the non-standard names browsers and tools still send).</summary>
    private static readonly string[] ImageTypes = ["image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/bmp", "image/x-bmp", "image/x-ms-bmp"];

    public const string FormField = "image";

    private const string Accepted = "image/png, image/jpeg, image/bmp, or multipart/form-data with the image in a field 'image'";

    /// <summary>`?top=k`: 1 ≤ k ≤ classes; absent: all classes.</summary>
    public static int ParseTop(IQueryCollection query, int classCount)
    {
        if (!query.TryGetValue("top", out var values)) return classCount;
        string? text = values.Count == 1 ? values[0] : null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int top) || top < 1 || top > classCount)
            throw new PredictRequestException(StatusCodes.Status400BadRequest,
                $"top must be an integer from 1 to {classCount} (got '{string.Join(",", values.ToArray())}')");
        return top;
    }

    /// <summary>The name an image sent as the raw body goes by in error messages.</summary>
    public const string BodySource = "request body";

    /// <summary>
    /// The image bytes of the request — the raw body, or the form field `image` — and the name errors give it (the form's
    /// file name, else <see cref="BodySource"/>).
    /// </summary>
    public static async Task<(byte[] Image, string Source)> ReadImageAsync(HttpRequest request, long maxBodyBytes, CancellationToken cancellation)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) || mediaType.MediaType.Value is not { } type)
            throw new PredictRequestException(StatusCodes.Status415UnsupportedMediaType,
                $"Content-Type must be {Accepted} (got {(string.IsNullOrEmpty(request.ContentType) ? "none" : "'" + request.ContentType + "'")})");

        bool multipart = type.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (!multipart && !ImageTypes.Contains(type, StringComparer.OrdinalIgnoreCase))
            throw new PredictRequestException(StatusCodes.Status415UnsupportedMediaType, $"Content-Type must be {Accepted} (got '{type}')");

        var body = await ReadBodyAsync(request, maxBodyBytes, cancellation).ConfigureAwait(false);
        var (image, source) = multipart ? await ReadFormFieldAsync(body, mediaType, cancellation).ConfigureAwait(false) : (body, BodySource);
        if (image.Length == 0) throw new PredictRequestException(StatusCodes.Status400BadRequest, $"Image '{source}': the image is empty (0 bytes)");
        return (image, source);
    }

    /// <summary>The whole body, refused with 413 as soon as it is known to exceed the limit (Content-Length, or counting).</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, long limit, CancellationToken cancellation)
    {
        if (request.ContentLength > limit) throw TooLarge(request.ContentLength.Value, limit);
        using var buffer = new MemoryStream((int)Math.Min(request.ContentLength ?? 64 * 1024, limit));
        byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellation).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > limit) throw TooLarge(null, limit);
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limit (the same one) or a malformed body: its status code (413, 400) and message.
            throw new PredictRequestException(e.StatusCode, e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return buffer.ToArray();
    }

    private static PredictRequestException TooLarge(long? length, long limit) => new(StatusCodes.Status413PayloadTooLarge,
        $"the request body is larger than the limit of {limit.ToString(CultureInfo.InvariantCulture)} bytes" +
        (length is { } n ? $" (Content-Length {n.ToString(CultureInfo.InvariantCulture)})" : ""));

    private static async Task<(byte[] Image, string Source)> ReadFormFieldAsync(byte[] body, MediaTypeHeaderValue mediaType, CancellationToken cancellation)
    {
        string boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).ToString();
        if (string.IsNullOrEmpty(boundary))
            throw new PredictRequestException(StatusCodes.Status400BadRequest, "multipart/form-data without a boundary parameter");
        var reader = new MultipartReader(boundary, new MemoryStream(body, writable: false));
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellation).ConfigureAwait(false)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                if (!string.Equals(HeaderUtilities.RemoveQuotes(disposition.Name).ToString(), FormField, StringComparison.Ordinal)) continue;
                using var image = new MemoryStream();
                await section.Body.CopyToAsync(image, cancellation).ConfigureAwait(false);
                string fileName = HeaderUtilities.RemoveQuotes(disposition.FileName).ToString();
                return (image.ToArray(), string.IsNullOrWhiteSpace(fileName) ? $"form field '{FormField}'" : SafeName(fileName));
            }
        }
        catch (IOException e)
        {
            throw new PredictRequestException(StatusCodes.Status400BadRequest, $"malformed multipart/form-data body: {e.Message}");
        }
        catch (InvalidDataException e)
        {
            throw new PredictRequestException(StatusCodes.Status400BadRequest, $"malformed multipart/form-data body: {e.Message}");
        }
        throw new PredictRequestException(StatusCodes.Status400BadRequest, $"multipart/form-data without a field '{FormField}' holding the image");
    }

    /// <summary>A client's file name fit for a one-line message: no directories, no control characters, at most 100 characters.</summary>
    private static string SafeName(string fileName)
    {
        string name = Path.GetFileName(fileName.Replace('\\', '/'));
        name = new string(name.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return name.Length <= 100 ? name : name[..100] + "…";
    }
}

/// <summary>A request the server refuses: the status code to answer and a one-line message.</summary>
internal sealed class PredictRequestException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}
