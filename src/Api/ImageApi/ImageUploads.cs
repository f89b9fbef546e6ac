using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.ImageApi;

/// <summary>A request body that is not an image this API can take; <see cref="Exception.Message"/> says what to send.</summary>
internal sealed class ImageUploadException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// Reads the image of <c>POST /api/v1/images</c> into a pooled buffer bounded by MAX_IMAGE_BYTES: a
/// <c>multipart/form-data</c> file part, a raw body (<c>image/*</c> or <c>application/octet-stream</c>), or
/// <c>{"url": ...}</c> fetched by <see cref="ImageFetcher"/> under the task images' network policy.
/// </summary>
internal static class ImageUploads
{
    private const int InitialBufferBytes = 256 * 1024;

    // Room for the multipart boundaries and part headers around a file of MAX_IMAGE_BYTES.
    private const long MultipartOverheadBytes = 64 * 1024;

    /// <returns>The image bytes; the caller owns them.</returns>
    /// <exception cref="ImageUploadException">Wrong content type, no file part, too large, or a bad JSON body.</exception>
    /// <exception cref="ImageFetchException">The URL could not be fetched.</exception>
    public static async Task<FetchedImage> ReadAsync(HttpRequest request, ImageFetcher fetcher, long maxBytes, CancellationToken cancellationToken)
    {
        // Kestrel's own cap (30 MB by default) would cut a MAX_IMAGE_BYTES upload short; this reader enforces the limit.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } cap)
            cap.MaxRequestBodySize = maxBytes + MultipartOverheadBytes;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type))
            throw Unsupported(request.ContentType);
        try
        {
            if (type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
                return await ReadMultipartAsync(request, type, maxBytes, cancellationToken).ConfigureAwait(false);
            if (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
                return await FetchAsync(request, fetcher, cancellationToken).ConfigureAwait(false);
            if (type.MediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) || type.MediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))
                return await ReadBoundedAsync(request.Body, maxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel refused the body (larger than the cap above, or the client sent a malformed body).
            throw e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(maxBytes) : new ImageUploadException(e.StatusCode, "the request body could not be read: " + e.Message);
        }
        throw Unsupported(request.ContentType);
    }

    private static async Task<FetchedImage> ReadMultipartAsync(HttpRequest request, MediaTypeHeaderValue type, long maxBytes, CancellationToken cancellationToken)
    {
        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
        if (string.IsNullOrEmpty(boundary))
            throw new ImageUploadException(400, "the multipart/form-data body has no boundary parameter in its Content-Type.");
        var reader = new MultipartReader(boundary, request.Body);
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken).ConfigureAwait(false) is { } section)
            {
                // The first file part is the image (curl -F image=@photo.jpg); other fields are skipped.
                if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) && disposition.IsFileDisposition())
                    return await ReadBoundedAsync(section.Body, maxBytes, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (InvalidDataException e)
        {
            throw new ImageUploadException(400, "the multipart/form-data body is malformed: " + e.Message);
        }
        throw new ImageUploadException(400, "the multipart/form-data body has no file part: send the image as a file field, e.g. curl -F image=@photo.jpg.");
    }

    private static async Task<FetchedImage> FetchAsync(HttpRequest request, ImageFetcher fetcher, CancellationToken cancellationToken)
    {
        ImageUrlRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, ImageApiJson.Context.ImageUrlRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new ImageUploadException(400, "the JSON body must be {\"url\": \"https://...\"}: " + e.Message);
        }
        var url = body?.Url?.Trim();
        if (string.IsNullOrEmpty(url))
            throw new ImageUploadException(400, "url: the JSON body must be {\"url\": \"https://...\"} with the image's URL.");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
            throw new ImageUploadException(400, "url: must be an absolute http(s) URL.");
        return await fetcher.FetchAsync(url, null, cancellationToken).ConfigureAwait(false);
    }

    private static Task<FetchedImage> ReadBoundedAsync(Stream body, long maxBytes, CancellationToken cancellationToken) =>
        ImageFetcher.ReadBoundedAsync(body, maxBytes, (int)Math.Min(maxBytes, InitialBufferBytes), "upload", () => TooLarge(maxBytes), cancellationToken);

    private static ImageUploadException TooLarge(long maxBytes) =>
        new(413, $"the image is larger than MAX_IMAGE_BYTES ({maxBytes} bytes); downscale it or raise MAX_IMAGE_BYTES.");

    private static ImageUploadException Unsupported(string? contentType) =>
        new(415, $"Content-Type '{contentType}' is not accepted: send multipart/form-data with a file part, the image bytes as image/* " +
            "or application/octet-stream, or application/json {\"url\": ...}.");
}
