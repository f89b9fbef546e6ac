using System.ComponentModel;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.ImageApi;

// Bodies of the HTTP API under /api/v1 (docs/api.md). Property order is the wire order; snake_case names.

/// <summary><c>POST /api/v1/images</c> with a JSON body: an image to fetch (same network policy as task images).</summary>
internal sealed class ImageUrlRequest
{
    /// <summary>http(s) URL of the image.</summary>
    [Description("http(s) URL of the image; fetched under IMAGE_URL_POLICY and IMAGE_URL_ALLOWLIST, as task images are.")]
    public string? Url { get; init; }
}

/// <summary>The answer to an upload: the image's id and size once its embedding exists (200), or as soon as it is queued (202).</summary>
internal sealed class ImageResponse
{
    [Description("Lowercase hex SHA-256 of the image bytes: the key of the embedding cache.")]
    public required string ImageId { get; init; }

    [Description("Width in pixels after EXIF orientation: prompts and masks use this frame.")]
    public int Width { get; init; }

    [Description("Height in pixels after EXIF orientation.")]
    public int Height { get; init; }

    [Description("True when the embedding was already held (in this process or in Redis) and nothing was encoded.")]
    public bool Cached { get; init; }
}

/// <summary><c>GET /api/v1/images/{image_id}</c>: where the embedding is held.</summary>
internal sealed class ImageStatusResponse
{
    public required string ImageId { get; init; }

    [Description("memory (this process), encoding (an encode is running here), redis (only in the shared tier) or no.")]
    public required string Held { get; init; }

    [Description("Bytes of the held embedding: 16 MiB (float32) in memory, the stored value's size in Redis; 0 when not held.")]
    public long Bytes { get; init; }

    [Description("Image width in pixels, when held in memory.")]
    public int? Width { get; init; }

    [Description("Image height in pixels, when held in memory.")]
    public int? Height { get; init; }
}

/// <summary><c>POST /api/v1/images/{image_id}/segment</c>.</summary>
internal sealed class SegmentRequest
{
    [Description("Clicks as [x, y] in pixels of the image (after EXIF orientation), 0 ≤ x ≤ width, 0 ≤ y ≤ height. At most MAX_PROMPTS.")]
    public double[][]? Points { get; init; }

    [Description("One per point: 1 positive (add), 0 negative (remove). Default: all 1.")]
    public int[]? Labels { get; init; }

    [Description("Boxes as [x0, y0, x1, y1] in pixels, x0 ≤ x1, y0 ≤ y1. One object per box; with one box the points refine it, " +
        "with several boxes no points are allowed. At most MAX_PROMPTS.")]
    public double[][]? Boxes { get; init; }

    [Description("Also return the decoder's other candidate masks of each object (SAM2's multimask output), best first, under alternatives.")]
    public bool Multimask { get; init; }

    [Description("Encodings to return for each mask: png, coco_rle, polygons, ls_brush. Default: [\"coco_rle\"].")]
    public string[]? Output { get; init; }
}

/// <summary>The masks of one segment request, in the order of the boxes (or one object for the points).</summary>
internal sealed class SegmentResponse
{
    public required string ImageId { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    public required IReadOnlyList<SegmentedObject> Objects { get; init; }

    [Description("Server-side stage times in milliseconds.")]
    public required SegmentTimings TimingsMs { get; init; }
}

/// <summary>One mask with the requested encodings; only the requested ones are present.</summary>
internal class MaskResult
{
    [Description("The decoder's predicted IoU of the mask, 0–1.")]
    public double Score { get; init; }

    [Description("[x, y, width, height] of the mask's pixels (COCO bbox); all 0 for an empty mask.")]
    public required int[] Bbox { get; init; }

    [Description("Foreground pixels.")]
    public long Area { get; init; }

    [Description("8-bit grayscale PNG (0 background, 255 foreground) of width × height, base64.")]
    public string? Png { get; init; }

    [Description("COCO compressed RLE (column-major), as pycocotools.mask.encode writes it.")]
    public CocoRleValue? CocoRle { get; init; }

    [Description("The mask's outlines, one per 8-connected component of at least POLYGON_MIN_AREA pixels (largest first, holes " +
        "filled), each a list of [x, y] vertices in pixel-edge coordinates (pixel (x, y) spans [x, x+1] × [y, y+1]), clockwise, not closed, " +
        "simplified within POLYGON_TOLERANCE and POLYGON_MAX_POINTS.")]
    public double[][][]? Polygons { get; init; }

    [Description("Label Studio's brush RLE (BrushLabels value.rle): the numbers of the byte stream.")]
    [JsonConverter(typeof(RleJsonConverter))]
    public ReadOnlyMemory<byte>? LsBrush { get; init; }
}

/// <summary>An object: its best mask, and with <c>multimask</c> the other candidates.</summary>
internal sealed class SegmentedObject : MaskResult
{
    [Description("With multimask: the decoder's other candidate masks of this object, best first.")]
    public IReadOnlyList<MaskResult>? Alternatives { get; init; }
}

/// <summary><c>{"size": [h, w], "counts": "..."}</c>: what <c>pycocotools.mask.decode</c> reads.</summary>
internal sealed class CocoRleValue
{
    [Description("[height, width].")]
    public required int[] Size { get; init; }

    [Description("pycocotools' compressed counts string (ASCII 48–111).")]
    public required string Counts { get; init; }
}

internal sealed class SegmentTimings
{
    [Description("Finding the embedding (memory, Redis, or waiting for a running encode).")]
    public double Embedding { get; init; }

    [Description("Decoder runs and mask post-processing.")]
    public double Decode { get; init; }

    [Description("Writing the requested encodings.")]
    public double Outputs { get; init; }

    public double Total { get; init; }
}

/// <summary><c>GET /api/v1/info</c>: what this server offers, for clients such as the playground.</summary>
internal sealed class ApiInfoResponse
{
    public required string Model { get; init; }

    [Description("Output names segment accepts.")]
    public required IReadOnlyList<string> Outputs { get; init; }

    [Description("MAX_PROMPTS.")]
    public int MaxPrompts { get; init; }

    [Description("MAX_IMAGE_BYTES.")]
    public long MaxImageBytes { get; init; }

    [Description("MAX_IMAGE_PIXELS.")]
    public long MaxImagePixels { get; init; }
}

/// <summary>The API's JSON settings, in one place for the bodies and for the OpenAPI schemas.</summary>
internal static class ImageApiJson
{
    /// <summary>Serialisation of the API bodies: the source-generated context with <see cref="Apply"/>'s settings.</summary>
    public static ImageApiJsonContext Context { get; } = new(Apply(new JsonSerializerOptions()));

    /// <summary>
    /// snake_case names, nulls not written, numbers only as numbers, and no \uXXXX escapes for '+' (base64 PNGs) or
    /// non-ASCII text (the bodies are JSON documents, never embedded in HTML). Applied to ASP.NET's HTTP JSON options as
    /// well, which the OpenAPI generator reads, so the document names what the wire carries.
    /// </summary>
    public static JsonSerializerOptions Apply(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }
}

/// <summary>Source-generated metadata of the API bodies; use it through <see cref="ImageApiJson.Context"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageUrlRequest))]
[JsonSerializable(typeof(ImageResponse))]
[JsonSerializable(typeof(ImageStatusResponse))]
[JsonSerializable(typeof(SegmentRequest))]
[JsonSerializable(typeof(SegmentResponse))]
[JsonSerializable(typeof(ApiInfoResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class ImageApiJsonContext : JsonSerializerContext;
