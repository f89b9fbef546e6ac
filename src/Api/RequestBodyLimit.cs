using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api;

/// <summary>
/// <c>MAX_REQUEST_BYTES</c> with a refusal every client can read. Kestrel refuses a larger body with 413 and closes the
/// connection without reading it; a client that sends its whole body before reading the answer (Python's <c>requests</c>
/// and <c>urllib</c>, which Label Studio uses) then sees a broken pipe instead of the 413. As with Tomcat's
/// <c>maxSwallowSize</c>, a body that declares (Content-Length) up to <see cref="SwallowFactor"/> times the limit is read
/// and discarded first, then answered 413 with a JSON message naming the limit and the setting; a larger one is answered
/// at once and the connection closed, as Kestrel does. A chunked body (no Content-Length) meets Kestrel's limit while the
/// endpoint reads it, as before.
/// </summary>
internal static class RequestBodyLimit
{
    /// <summary>Bodies up to this many times the limit are swallowed before the 413: the cost of a readable refusal is
    /// bounded by the limit itself (a 30 MB limit reads at most 60 MB), and Kestrel's minimum data rate still applies.</summary>
    public const long SwallowFactor = 2;

    /// <summary>Kestrel's own cap on every request body; endpoints that bound their body themselves raise it.</summary>
    public static void Configure(IWebHostBuilder host, long maxBytes) =>
        host.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = maxBytes);

    /// <summary>Answers declared-oversized bodies readably. Endpoints carrying <see cref="OwnBodyLimit"/> are left alone.</summary>
    public static IApplicationBuilder UseReadableBodyLimit(this IApplicationBuilder app, long maxBytes)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestBodyLimit).FullName!);
        return app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength is not long declared || declared <= maxBytes
                || context.GetEndpoint()?.Metadata.GetMetadata<OwnBodyLimit>() is not null)
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            var swallowed = declared <= maxBytes * SwallowFactor && await SwallowAsync(context).ConfigureAwait(false);
            if (!swallowed) context.Response.Headers.Connection = "close";
            Log.RequestBodyTooLarge(logger, context.Request.Path.Value ?? "", declared, maxBytes, swallowed);
            var detail = $"the request body ({declared} bytes) is larger than MAX_REQUEST_BYTES ({maxBytes} bytes); send a smaller body or raise MAX_REQUEST_BYTES.";
            // With a Content-Length (not chunked), so a simple client knows where the answer ends.
            var json = JsonSerializer.SerializeToUtf8Bytes(new ErrorResponse { Status = 413, Detail = detail }, LabelStudioJsonContext.Default.ErrorResponse);
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength = json.Length;
            await context.Response.Body.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
        });
    }

    /// <summary>Reads the body to its end and drops it; false when the client went away or was too slow.</summary>
    private static async Task<bool> SwallowAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is not { IsReadOnly: false } cap) return false;
        // Content-Length bounds what Kestrel hands over, so lifting the cap reads at most the declared length.
        cap.MaxRequestBodySize = null;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false) > 0)
            {
            }
            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or BadHttpRequestException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Endpoint metadata: the endpoint sets and enforces its own body limit (the image upload's MAX_IMAGE_BYTES).</summary>
internal sealed class OwnBodyLimit
{
    public static OwnBodyLimit Instance { get; } = new();
}
