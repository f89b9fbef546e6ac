using System.Text.Json.Serialization;

namespace Sam2Interactive.Api.LabelStudio;

// Response bodies (docs/label-studio-protocol.md §1.3, §1.4). Property order is the wire order.

/// <summary><c>/predict</c> answer: one element per task; an empty list for no-context and unsupported calls.</summary>
internal sealed class PredictResponse
{
    public required IReadOnlyList<PredictionResult> Results { get; init; }

    /// <summary><c>{"results":[]}</c>.</summary>
    public static PredictResponse Empty { get; } = new() { Results = [] };
}

/// <summary>One task's prediction (SDK <c>PredictionValue</c>): <c>{"result":[regions],"score","model_version"}</c>.</summary>
internal sealed class PredictionResult
{
    public required IReadOnlyList<Region> Result { get; init; }

    public double Score { get; init; }

    public required string ModelVersion { get; init; }
}

/// <summary>
/// One result region. <see cref="FromName"/> is the control that holds the mask (BrushLabels, …; not the smart control
/// that sent the prompt); <see cref="OriginalWidth"/>/<see cref="OriginalHeight"/> are echoed from the context and the
/// mask has exactly that size. Ids must be unique within a response. The kind of region is <see cref="Type"/> with the
/// matching <see cref="Value"/>: <see cref="BrushValue"/> for <c>brushlabels</c>/<c>brush</c>, <see cref="PolygonValue"/>
/// for <c>polygonlabels</c>/<c>polygon</c> (the control's tag in lower case, LS <c>regions/Result.js</c>).
/// </summary>
internal sealed class Region
{
    public required string Id { get; init; }

    public required string FromName { get; init; }

    public required string ToName { get; init; }

    public string Type { get; init; } = "brushlabels";

    /// <summary><c>manual</c> on the prompt UI's <c>bitmask</c> region (as Label Studio's editor expects); null, and not
    /// written, on the smart tools' regions.</summary>
    public string? Origin { get; init; }

    public int OriginalWidth { get; init; }

    public int OriginalHeight { get; init; }

    public int ImageRotation { get; init; }

    public required RegionValue Value { get; init; }

    public double Score { get; init; }

    public bool Readonly { get; init; }
}

/// <summary>
/// A region's <c>value</c>; each output kind derives its own. Serialised as the derived type, with no type discriminator
/// (Label Studio reads the region's <c>type</c>). Add a <see cref="JsonDerivedTypeAttribute"/> per new kind.
/// </summary>
[JsonDerivedType(typeof(BrushValue))]
[JsonDerivedType(typeof(PolygonValue))]
[JsonDerivedType(typeof(BitmaskValue))]
internal abstract class RegionValue;

/// <summary><c>{"format":"rle","rle":[bytes],"brushlabels":[label]}</c>; without <c>brushlabels</c> for a Brush control.</summary>
internal sealed class BrushValue : RegionValue
{
    public string Format { get; init; } = "rle";

    /// <summary>
    /// Label Studio RLE bytes, written as a JSON array of numbers 0..255. The memory may be a pooled buffer slice:
    /// it must stay valid until serialisation finishes; its owner returns it afterwards.
    /// </summary>
    [JsonConverter(typeof(RleJsonConverter))]
    public required ReadOnlyMemory<byte> Rle { get; init; }

    /// <summary>The label list; null (not written) for an unlabeled Brush control.</summary>
    [JsonPropertyName("brushlabels")]
    public required IReadOnlyList<string>? BrushLabels { get; init; }
}

/// <summary>
/// <c>{"points":[[x,y],...],"closed":true,"polygonlabels":[label]}</c>: the vertices in percent of
/// <c>original_width</c>/<c>original_height</c> (0–100), not repeating the first (LS <c>regions/PolygonRegion.jsx</c>
/// <c>serialize</c>); without <c>polygonlabels</c> for a Polygon control.
/// </summary>
internal sealed class PolygonValue : RegionValue
{
    /// <summary>[x, y] pairs in percent.</summary>
    public required IReadOnlyList<double[]> Points { get; init; }

    public bool Closed { get; init; } = true;

    /// <summary>The label list; null (not written) for an unlabeled Polygon control.</summary>
    [JsonPropertyName("polygonlabels")]
    public required IReadOnlyList<string>? PolygonLabels { get; init; }
}

/// <summary>
/// <c>{"imageDataURL":"data:image/png;base64,…","width":W,"height":H,"bitmasklabels":[label]}</c>: the mask as a PNG of
/// the image's full size after EXIF orientation (docs/label-studio-protocol.md §7). Without <c>bitmasklabels</c> on the
/// prompt UI's <c>bitmask</c> region (the label is chosen in the browser on Accept) and for a Bitmask control.
/// </summary>
internal sealed class BitmaskValue : RegionValue
{
    /// <summary>The data URL as a JSON string literal, quotes included (<see cref="MaskDataUrl"/>), written as is.</summary>
    [JsonPropertyName("imageDataURL")]
    [JsonConverter(typeof(RawJsonStringConverter))]
    public required ReadOnlyMemory<byte> ImageDataUrl { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    [JsonPropertyName("bitmasklabels")]
    public IReadOnlyList<string>? BitmaskLabels { get; init; }
}

/// <summary>
/// The prompt UI's <c>capabilities</c> answer (docs/label-studio-protocol.md §7):
/// <c>{"results":[{"result":[{"id":"c1","type":"capabilities","value":{...}}],"score":0,"model_version":"…"}]}</c>.
/// </summary>
internal sealed class CapabilitiesResponse
{
    public required IReadOnlyList<CapabilitiesPrediction> Results { get; init; }
}

internal sealed class CapabilitiesPrediction
{
    public required IReadOnlyList<CapabilitiesItem> Result { get; init; }

    public double Score { get; init; }

    public required string ModelVersion { get; init; }
}

internal sealed class CapabilitiesItem
{
    public string Id { get; init; } = "c1";

    public string Type { get; init; } = "capabilities";

    public required Capabilities Value { get; init; }
}

/// <summary>What the backend takes and drives; the browser requires <see cref="Prompts"/> and <see cref="Targets"/>
/// to be arrays (LS <c>ml-interactive/types.ts</c> <c>Capabilities</c>).</summary>
internal sealed class Capabilities
{
    /// <summary><c>point</c>, <c>box</c>: the Points/Box toggle appears only with both.</summary>
    public required IReadOnlyList<string> Prompts { get; init; }

    public required IReadOnlyList<CapabilityTarget> Targets { get; init; }

    public required ModelInfo ModelInfo { get; init; }
}

/// <summary>A control tag the UI may drive (<c>BitmaskLabels</c>, ...) and the shape it builds from the mask
/// (<c>mask</c>, <c>bbox</c>, <c>polygon</c>).</summary>
internal sealed class CapabilityTarget
{
    public required string Tag { get; init; }

    public required string Output { get; init; }
}

internal sealed class ModelInfo
{
    public required string Name { get; init; }

    public required string Version { get; init; }
}

/// <summary><c>/setup</c> answer; LS reads only <c>model_version</c>.</summary>
internal sealed class SetupResponse
{
    public required string ModelVersion { get; init; }
}

/// <summary>
/// <c>GET /</c> and <c>/health</c>: LS only needs 2xx + valid JSON. <c>status</c> is <c>UP</c> when ready, otherwise
/// (with HTTP 503) a state such as <c>STARTING</c> and a <see cref="Reason"/>.
/// </summary>
internal sealed class HealthResponse
{
    public required string Status { get; init; }

    public required string ModelClass { get; init; }

    public string? Model { get; init; }

    /// <summary>Execution provider of the encoder session ("cpu", "cuda"); the configured DEVICE until the models are loaded.</summary>
    public string? Device { get; init; }

    /// <summary>Each session's own execution provider: <c>{"encoder": "cpu", "decoder": "cpu"}</c>; absent until ready.</summary>
    public IReadOnlyDictionary<string, string>? Providers { get; init; }

    /// <summary>Cache counters by name (entries, bytes, hits, ...), as the cache stage reports them.</summary>
    public IReadOnlyDictionary<string, long>? Cache { get; init; }

    /// <summary>State of the shared (Redis) tier: disabled, connected, degraded.</summary>
    public string? CacheState { get; init; }

    public string? Reason { get; init; }
}

/// <summary><c>POST /prefetch</c> answer.</summary>
internal sealed class PrefetchResponse
{
    public int Queued { get; init; }
}

/// <summary><c>GET /versions</c>: <c>{"versions":[...]}</c>.</summary>
internal sealed class VersionsResponse
{
    public required IReadOnlyList<string> Versions { get; init; }
}

/// <summary><c>/webhook</c> answer, shaped like the SDK's (<c>{"status":"ok"}</c> / <c>{"status":"Unknown event"}</c>).</summary>
internal sealed class WebhookResponse
{
    public required string Status { get; init; }
}

/// <summary>An error body, shaped like the SDK's exception handler: <c>{"status":400,"detail":"..."}</c>.</summary>
internal sealed class ErrorResponse
{
    public int Status { get; init; }

    public required string Detail { get; init; }
}
