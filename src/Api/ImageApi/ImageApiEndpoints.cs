using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.ImageApi;

/// <summary>
/// The HTTP API beside the Label Studio protocol (docs/api.md): post an image once, get its <c>image_id</c> (the SHA-256
/// of its bytes, the embedding cache's own key), then segment prompts against it. A thin layer over the stages: the
/// embedding comes from <see cref="EmbeddingStore"/> (tier 1, single flight, Redis, cluster lock: an image Label Studio
/// also serves shares its embedding), the masks from <see cref="Sam2Decoder"/>, the encodings from the Decoder stage.
/// Errors answer <c>{"status", "detail"}</c> as the Label Studio endpoints do.
/// </summary>
internal static class ImageApiEndpoints
{
    public const string Prefix = "/api/v1";

    private static readonly SearchValues<char> s_hexDigits = SearchValues.Create("0123456789abcdef");

    public static IEndpointRouteBuilder MapImageApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup(Prefix).WithTags("images");
        api.MapGet("/info", Info)
            .WithName("GetInfo").WithSummary("What this server offers: model, outputs and limits.")
            .Produces<ApiInfoResponse>();
        api.MapPost("/images", PostImage)
            .WithMetadata(OwnBodyLimit.Instance)
            .WithName("PostImage")
            .WithSummary("Upload an image (multipart file, raw bytes or {\"url\"}) and encode it once; answers its image_id.")
            .WithDescription("Answers 200 once the embedding exists. With ?wait=false, answers 202 at once and encodes in the background at " +
                "prefetch priority (200 when the embedding is already held).")
            .Produces<ImageResponse>(StatusCodes.Status200OK)
            .Produces<ImageResponse>(StatusCodes.Status202Accepted)
            .Produces<ErrorResponse>(StatusCodes.Status400BadRequest)
            .Produces<ErrorResponse>(StatusCodes.Status413PayloadTooLarge)
            .Produces<ErrorResponse>(StatusCodes.Status415UnsupportedMediaType)
            .Produces<ErrorResponse>(StatusCodes.Status422UnprocessableEntity)
            .AddOpenApiOperationTransformer(ImageApiOpenApi.UploadBody);
        api.MapGet("/images/{image_id}", GetImage)
            .WithName("GetImage").WithSummary("Whether the image's embedding is held: memory, encoding, redis or no.")
            .Produces<ImageStatusResponse>();
        api.MapPost("/images/{image_id}/segment", Segment)
            .WithName("Segment")
            .WithSummary("Masks for points and boxes in pixels of the image: one object per box, or one for the points.")
            .Accepts<SegmentRequest>("application/json")
            .Produces<SegmentResponse>()
            .Produces<ErrorResponse>(StatusCodes.Status400BadRequest)
            .Produces<ErrorResponse>(StatusCodes.Status404NotFound);
        return app;
    }

    private static IResult Info(ModelOptions models, ServerOptions server, LabelStudioOptions labelStudio) =>
        Json(new ApiInfoResponse
        {
            Model = models.ModelName,
            Outputs = MaskOutputs.Names,
            MaxPrompts = server.MaxPrompts,
            MaxImageBytes = labelStudio.MaxImageBytes,
            MaxImagePixels = models.MaxImagePixels,
        }, ImageApiJson.Context.ApiInfoResponse);

    private static async Task<IResult> PostImage(HttpRequest request, [FromQuery] string? wait, EmbeddingStore store, ImageFetcher fetcher,
        LabelStudioOptions labelStudio, ModelOptions models, IServiceProvider services, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        bool waitForEmbedding;
        if (wait is null || wait.Equals("true", StringComparison.OrdinalIgnoreCase) || wait == "1") waitForEmbedding = true;
        else if (wait.Equals("false", StringComparison.OrdinalIgnoreCase) || wait == "0") waitForEmbedding = false;
        else return Error(400, $"wait: must be true or false, not '{wait}'.");

        FetchedImage bytes;
        try
        {
            bytes = await ImageUploads.ReadAsync(request, fetcher, labelStudio.MaxImageBytes, cancellationToken);
        }
        catch (ImageUploadException e)
        {
            return Error(e.Status, e.Message);
        }
        catch (ImageFetchException e)
        {
            return Error(e.StatusCode, "the image at url could not be fetched: " + e.Message);
        }

        int width, height;
        try
        {
            // From the header: refuses a non-image or an oversized one before any encoder slot is taken, and gives the
            // size a 202 answers with.
            (width, height) = ImageHeader.Read(bytes.Memory.Span, models.MaxImagePixels);
        }
        catch (ImageDecodeException e)
        {
            bytes.Dispose();
            return DecodeError(e);
        }

        // Resolved now: a background encode outlives this request's service scope. A singleton, so this is the one session.
        var encoder = services.GetRequiredService<Sam2Encoder>();
        Func<ReadOnlyMemory<byte>, ImageEmbedding> encode = b => encoder.EncodeImage(b.Span);
        if (!waitForEmbedding)
        {
            var id = EmbeddingStore.ContentHash(bytes.Memory.Span);
            if ((await store.LocateAsync(id, cancellationToken)).Holder == EmbeddingHolder.Memory)
            {
                bytes.Dispose();
                return Json(new ImageResponse { ImageId = id, Width = width, Height = height, Cached = true }, ImageApiJson.Context.ImageResponse);
            }
            // The store owns the bytes from here; its single flight (awaited on shutdown) runs the encode.
            _ = EncodeInBackgroundAsync(store, bytes, encode, id, loggers.CreateLogger("Sam2Interactive.Api.Images"));
            return Json(new ImageResponse { ImageId = id, Width = width, Height = height, Cached = false }, ImageApiJson.Context.ImageResponse, 202);
        }

        ContentEmbedding result;
        try
        {
            result = await store.GetOrCreateByContentAsync(bytes, encode, EncodePriority.Click, cancellationToken);
        }
        catch (ImageDecodeException e)
        {
            return DecodeError(e);
        }
        using (result.Embedding)
        {
            return Json(new ImageResponse { ImageId = result.ContentHash, Width = result.Embedding.OriginalWidth, Height = result.Embedding.OriginalHeight, Cached = result.Cached },
                ImageApiJson.Context.ImageResponse);
        }
    }

    private static async Task EncodeInBackgroundAsync(EmbeddingStore store, IMemoryOwner<byte> bytes, Func<ReadOnlyMemory<byte>, ImageEmbedding> encode,
        string id, ILogger logger)
    {
        try
        {
            var result = await store.GetOrCreateByContentAsync(bytes, encode, EncodePriority.Prefetch, CancellationToken.None).ConfigureAwait(false);
            result.Embedding.Dispose();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.BackgroundEncodeFailed(logger, id, e.Message);
        }
    }

    private static async Task<IResult> GetImage([FromRoute(Name = "image_id")] string imageId, EmbeddingStore store, CancellationToken cancellationToken)
    {
        if (!TryParseImageId(imageId, out var hash)) return UnknownImage(imageId);
        var location = await store.LocateAsync(hash, cancellationToken);
        return Json(new ImageStatusResponse
        {
            ImageId = hash,
            Held = location.Holder switch
            {
                EmbeddingHolder.Memory => "memory",
                EmbeddingHolder.Encoding => "encoding",
                EmbeddingHolder.Shared => "redis",
                _ => "no",
            },
            Bytes = location.Bytes,
            Width = location.Holder == EmbeddingHolder.Memory ? location.Width : null,
            Height = location.Holder == EmbeddingHolder.Memory ? location.Height : null,
        }, ImageApiJson.Context.ImageStatusResponse);
    }

    private static async Task<IResult> Segment([FromRoute(Name = "image_id")] string imageId, HttpRequest request, EmbeddingStore store,
        ServerOptions server, MaskOutputOptions output, ApiMetrics metrics, IServiceProvider services, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        SegmentRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, ImageApiJson.Context.SegmentRequest, cancellationToken);
        }
        catch (JsonException e)
        {
            return Error(400, "the segment body is not valid JSON for {\"points\", \"labels\", \"boxes\", \"multimask\", \"output\"}: " + e.Message);
        }
        if (body is null) return Error(400, "the segment body must be a JSON object with points and/or boxes.");
        if (SegmentPrompts.CheckShape(body, server.MaxPrompts) is { } shapeError) return Error(400, shapeError);
        if (!MaskOutputs.Parse(body.Output, out var outputs, out var outputError)) return Error(400, outputError!);
        if (!TryParseImageId(imageId, out var hash)) return UnknownImage(imageId);

        using var embedding = await store.TryGetAsync(hash, EncodePriority.Click, cancellationToken);
        if (embedding is null) return UnknownImage(hash);
        var embeddingDone = Stopwatch.GetTimestamp();
        int width = embedding.OriginalWidth, height = embedding.OriginalHeight;
        if (SegmentPrompts.CheckBounds(body, width, height) is { } boundsError) return Error(400, boundsError);

        var prompts = SegmentPrompts.Build(body);
        var decoder = services.GetRequiredService<Sam2Decoder>();
        // An API segment is interactive work, like a click: automatic pre-annotation yields the decoder to it.
        using var interactive = decoder.Priority.EnterInteractive();
        var candidates = body.Multimask
            ? decoder.PredictCandidates(embedding, prompts, width, height)
            : decoder.PredictMany(embedding, prompts, width, height).Select(m => new[] { m }).ToArray();
        var decoded = Stopwatch.GetTimestamp();
        try
        {
            var objects = new List<SegmentedObject>(candidates.Length);
            foreach (var masks in candidates)
            {
                var best = MaskOutputs.Encode(masks[0], outputs, output.Polygon, metrics);
                var alternatives = body.Multimask ? masks.Skip(1).Select(m => ToResult(MaskOutputs.Encode(m, outputs, output.Polygon, metrics))).ToList() : null;
                objects.Add(ToObject(best, alternatives));
            }
            var end = Stopwatch.GetTimestamp();
            return Json(new SegmentResponse
            {
                ImageId = hash,
                Width = width,
                Height = height,
                Objects = objects,
                TimingsMs = new SegmentTimings
                {
                    Embedding = Milliseconds(start, embeddingDone),
                    Decode = Milliseconds(embeddingDone, decoded),
                    Outputs = Milliseconds(decoded, end),
                    Total = Milliseconds(start, end),
                },
            }, ImageApiJson.Context.SegmentResponse);
        }
        finally
        {
            foreach (var m in candidates.SelectMany(c => c)) m.Dispose();
        }
    }

    private static MaskResult ToResult(MaskFields f) => new()
    {
        Score = f.Score,
        Bbox = f.Bbox,
        Area = f.Area,
        Png = f.Png,
        CocoRle = f.CocoRle,
        Polygons = f.Polygons,
        LsBrush = f.LsBrush,
    };

    private static SegmentedObject ToObject(MaskFields f, IReadOnlyList<MaskResult>? alternatives) => new()
    {
        Score = f.Score,
        Bbox = f.Bbox,
        Area = f.Area,
        Png = f.Png,
        CocoRle = f.CocoRle,
        Polygons = f.Polygons,
        LsBrush = f.LsBrush,
        Alternatives = alternatives,
    };

    private static double Milliseconds(long from, long to) => Math.Round(Stopwatch.GetElapsedTime(from, to).TotalMilliseconds, 2);

    /// <summary>An image id is 64 hex digits (any case; answered lower-case).</summary>
    internal static bool TryParseImageId(string? value, out string hash)
    {
        hash = value?.Trim().ToLowerInvariant() ?? string.Empty;
        return hash.Length == 64 && hash.AsSpan().IndexOfAnyExcept(s_hexDigits) < 0;
    }

    private static IResult UnknownImage(string imageId) =>
        Error(404, $"image_id '{imageId}' is not held by this server (never posted, evicted from the cache, or expired): post the image again with POST {Prefix}/images.");

    private static IResult DecodeError(ImageDecodeException e) =>
        Error(e.Error == ImageDecodeError.TooLarge ? 413 : 422, "the upload cannot be used as an image: " + e.Message);

    private static IResult Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, int status = 200) =>
        Results.Json(value, type, statusCode: status);

    private static IResult Error(int status, string detail) =>
        Results.Json(new ErrorResponse { Status = status, Detail = detail }, ImageApiJson.Context.ErrorResponse, statusCode: status);

    internal static string Invariant(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
