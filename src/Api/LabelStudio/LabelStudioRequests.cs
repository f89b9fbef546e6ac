using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sam2Interactive.Api.LabelStudio;

// Request bodies Label Studio sends to an ML backend (docs/label-studio-protocol.md §1.2, §1.3, §2).
// Every member is optional on the wire: LS versions differ, and unknown members (annotations, drafts,
// predictions, login/password, ...) are skipped by the serializer without being materialised.

/// <summary>
/// <c>POST /predict</c> body. Current LS: <c>{tasks, project, label_config, params:{login,password,context}}</c>;
/// older LS also sends a top-level <c>model_version</c>. <c>params</c> or <c>params.context</c> may be null or absent
/// (batch / "task opened" calls).
/// </summary>
internal sealed class PredictRequest
{
    public List<LabelStudioTask>? Tasks { get; init; }

    /// <summary>Project uid <c>"&lt;id&gt;.&lt;created_at unix seconds&gt;"</c>, e.g. <c>"3.1746612998"</c>.</summary>
    [JsonConverter(typeof(LenientStringConverter))]
    public string? Project { get; init; }

    public string? LabelConfig { get; init; }

    public PredictParams? Params { get; init; }

    /// <summary>Sent only by older LS versions.</summary>
    [JsonConverter(typeof(LenientStringConverter))]
    public string? ModelVersion { get; init; }

    /// <summary>The interactive context, or null for batch / no-context calls.</summary>
    [JsonIgnore]
    public InteractiveContext? Context => Params?.Context;

    /// <summary>The numeric project id before the first '.', or null when no project was sent.</summary>
    [JsonIgnore]
    public string? ProjectId => Project is null ? null : Project.Split('.', 2)[0];
}

/// <summary><c>params</c> of /predict. <c>login</c>/<c>password</c> (task data credentials) are ignored.</summary>
internal sealed class PredictParams
{
    public InteractiveContext? Context { get; init; }
}

/// <summary>
/// <c>params.context</c> of an interactive call: the smart regions of one group (same type, label and to_name).
/// <c>event</c> is only sent by the newer flag-gated SAM protocol; absent means <c>predict</c>.
/// </summary>
internal sealed class InteractiveContext
{
    public List<ContextResultItem>? Result { get; init; }

    public string? Event { get; init; }
}

/// <summary>One serialized region of <c>context.result</c> (KeyPointRegion / RectRegion <c>serialize</c>).</summary>
internal sealed class ContextResultItem
{
    [JsonConverter(typeof(LenientStringConverter))]
    public string? Id { get; init; }

    public string? FromName { get; init; }

    public string? ToName { get; init; }

    /// <summary><c>keypointlabels</c>, <c>rectanglelabels</c> (or label-less <c>keypoint</c>, <c>rectangle</c>).</summary>
    public string? Type { get; init; }

    public string? Origin { get; init; }

    /// <summary>Browser <c>naturalWidth</c> of the image, pixels.</summary>
    public int? OriginalWidth { get; init; }

    /// <summary>Browser <c>naturalHeight</c> of the image, pixels.</summary>
    public int? OriginalHeight { get; init; }

    /// <summary>Image rotation in degrees as shown in the editor (echoed into the response region).</summary>
    public int? ImageRotation { get; init; }

    public ContextValue? Value { get; init; }

    /// <summary>Dynamic keypoints only: <c>!negative</c>. Not always present; missing means positive.</summary>
    [JsonConverter(typeof(LenientBoolConverter))]
    public bool? IsPositive { get; init; }

    public int? ItemIndex { get; init; }
}

/// <summary>
/// <c>value</c> of a context region. x, y, width, height are percent (0..100) of the original image; for a rectangle
/// (x, y) is the top-left corner before <c>rotation</c> (degrees, clockwise, around that corner).
/// </summary>
internal sealed class ContextValue
{
    public double? X { get; init; }

    public double? Y { get; init; }

    public double? Width { get; init; }

    public double? Height { get; init; }

    public double? Rotation { get; init; }

    [JsonPropertyName("keypointlabels")]
    public List<string>? KeyPointLabels { get; init; }

    [JsonPropertyName("rectanglelabels")]
    public List<string>? RectangleLabels { get; init; }

    public List<string>? Labels { get; init; }

    /// <summary>Newer SAM protocol: point polarity inside <c>value</c>.</summary>
    [JsonConverter(typeof(LenientBoolConverter))]
    public bool? Positive { get; init; }
}

/// <summary>A task as LS serialises it in /predict and webhooks. Only <c>id</c> and <c>data</c> are read.</summary>
internal sealed class LabelStudioTask
{
    public long Id { get; init; }

    /// <summary>Raw task data; image values are unresolved URIs (<c>/data/upload/..</c>, <c>s3://..</c>, ...).</summary>
    public Dictionary<string, JsonElement>? Data { get; init; }

    /// <summary>The string value of <c>data[key]</c>, or null when missing or not a string.</summary>
    public string? GetDataString(string key) =>
        Data is not null && Data.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>
/// <c>POST /setup</c> body: <c>{project, schema, hostname, access_token, extra_params}</c>. <c>hostname</c> and
/// <c>access_token</c> are informational only (the token is a legacy token, often disabled).
/// </summary>
internal sealed class SetupRequest
{
    [JsonConverter(typeof(LenientStringConverter))]
    public string? Project { get; init; }

    /// <summary>The label config XML.</summary>
    public string? Schema { get; init; }

    public string? Hostname { get; init; }

    public string? AccessToken { get; init; }

    /// <summary>An object, or a JSON string holding an object (what the Python SDK stores), or null.</summary>
    public JsonElement? ExtraParams { get; init; }

    /// <summary>
    /// <c>extra_params</c> as a JSON object, whichever way it was sent; null when absent, null, or an empty string.
    /// </summary>
    /// <exception cref="LabelStudioValidationException">The value is neither an object nor a string holding one.</exception>
    public JsonElement? GetExtraParamsObject()
    {
        if (ExtraParams is not { } e || e.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
            return null;
        if (e.ValueKind == JsonValueKind.Object)
            return e;
        if (e.ValueKind == JsonValueKind.String)
        {
            var text = e.GetString();
            if (string.IsNullOrWhiteSpace(text))
                return null;
            try
            {
                using var doc = JsonDocument.Parse(text);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                    return doc.RootElement.Clone();
                if (doc.RootElement.ValueKind == JsonValueKind.Null)
                    return null;
            }
            catch (JsonException)
            {
                // Falls through to the validation error below.
            }
        }
        throw new LabelStudioValidationException("extra_params",
            "extra_params must be a JSON object or a string holding a JSON object, e.g. {\"key\": \"value\"}.");
    }
}

/// <summary>
/// Webhook body (docs/label-studio-protocol.md §2): <c>{action, tasks[], project{...}}</c> for TASKS_CREATED; <c>task</c> and
/// <c>annotation</c> for annotation events; only <c>{action}</c> when the webhook has send_payload=false.
/// </summary>
internal sealed class WebhookPayload
{
    public string? Action { get; init; }

    public List<LabelStudioTask>? Tasks { get; init; }

    public LabelStudioTask? Task { get; init; }

    public WebhookProject? Project { get; init; }
}

/// <summary>The project object of a webhook (ProjectWebhookSerializer); only a few fields are read.</summary>
internal sealed class WebhookProject
{
    public long Id { get; init; }

    public string? Title { get; init; }

    public string? LabelConfig { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? ModelVersion { get; init; }
}

/// <summary><c>POST /prefetch</c> body: Label Studio tasks (with an optional label config) and/or bare image URIs.</summary>
internal sealed class PrefetchRequest
{
    public List<LabelStudioTask>? Tasks { get; init; }

    public List<string>? Uris { get; init; }

    public string? LabelConfig { get; init; }
}
