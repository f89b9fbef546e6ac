using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.Playground;

/// <summary>
/// <c>/playground</c>: one page over the HTTP API, served from files embedded in this assembly (Playground/wwwroot:
/// no CDN, no build step, works offline). Each file has a strong ETag (SHA-256 of its bytes) and
/// <c>Cache-Control: no-cache</c>, so browsers revalidate and get 304 until the server is upgraded.
/// </summary>
internal static class PlaygroundEndpoints
{
    private const string ResourcePrefix = "Playground/";

    private static readonly FrozenDictionary<string, string> s_contentTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
    }.ToFrozenDictionary();

    private static readonly Lazy<FrozenDictionary<string, PlaygroundFile>> s_files = new(Load);

    /// <summary>The embedded files by name (index.html, playground.js, playground.css).</summary>
    internal static FrozenDictionary<string, PlaygroundFile> Files => s_files.Value;

    public static IEndpointRouteBuilder MapPlayground(this IEndpointRouteBuilder app)
    {
        // Relative links from /playground/ reach ../api/v1, so the page also works behind a reverse-proxy path prefix.
        // Routing does not tell /playground from /playground/: the handler does.
        app.MapGet("/playground/{file?}", (HttpContext context, string? file) =>
                file is not null ? Serve(context, file)
                : context.Request.Path.Value!.EndsWith('/') ? Serve(context, "index.html")
                : Results.Redirect("playground/"))
            .ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(HttpContext context, string name)
    {
        if (!Files.TryGetValue(name, out var file))
        {
            return Results.Json(new ErrorResponse { Status = 404, Detail = $"the playground has no file '{name}'; open /playground/." },
                LabelStudioJsonContext.Default.ErrorResponse, statusCode: 404);
        }
        var headers = context.Response.Headers;
        headers.ETag = file.ETag;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == file.ETag)))
            return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(file.Bytes, file.ContentType);
    }

    private static FrozenDictionary<string, PlaygroundFile> Load()
    {
        var assembly = typeof(PlaygroundEndpoints).Assembly;
        var files = new Dictionary<string, PlaygroundFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var name = resource[ResourcePrefix.Length..];
            var type = s_contentTypes.GetValueOrDefault(Path.GetExtension(name), "application/octet-stream");
            files[name] = new PlaygroundFile(bytes, type, new EntityTagHeaderValue("\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..32] + "\"").ToString());
        }
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

/// <summary>One embedded file, its content type and strong ETag.</summary>
internal sealed record PlaygroundFile(byte[] Bytes, string ContentType, string ETag);
