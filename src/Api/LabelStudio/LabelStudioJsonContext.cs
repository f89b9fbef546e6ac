using System.Text.Json.Serialization;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// Source-generated serialisation for every Label Studio body. snake_case names; nulls are not written; numbers may
/// arrive as strings, and quoted "NaN"/"Infinity" are read so that validation, not the parser, reports them
/// (a bare NaN token, as Python's json.dumps writes it, is still a <see cref="System.Text.Json.JsonException"/>).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(PredictRequest))]
[JsonSerializable(typeof(SetupRequest))]
[JsonSerializable(typeof(WebhookPayload))]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(SetupResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(VersionsResponse))]
[JsonSerializable(typeof(WebhookResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(PrefetchRequest))]
[JsonSerializable(typeof(PrefetchResponse))]
[JsonSerializable(typeof(TokenRefreshRequest))]
[JsonSerializable(typeof(TokenRefreshResponse))]
[JsonSerializable(typeof(LabelStudioProject))]
[JsonSerializable(typeof(LabelStudioTaskPage))]
[JsonSerializable(typeof(LabelStudioPrediction))]
[JsonSerializable(typeof(List<LabelStudioPrediction>))]
[JsonSerializable(typeof(PredictionCreateRequest))]
[JsonSerializable(typeof(Automatic.AnnotateRequest))]
[JsonSerializable(typeof(Automatic.AnnotateResponse))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(CapabilitiesResponse))]
internal sealed partial class LabelStudioJsonContext : JsonSerializerContext;

/// <summary><c>POST /api/token/refresh/</c> body.</summary>
internal sealed class TokenRefreshRequest
{
    public required string Refresh { get; init; }
}

/// <summary><c>POST /api/token/refresh/</c> answer: a short-lived (about 5 min) access JWT.</summary>
internal sealed class TokenRefreshResponse
{
    public string? Access { get; init; }
}

/// <summary>
/// A request value that cannot be turned into prompts. <see cref="Exception.Message"/> says what to fix and never
/// contains secrets; the endpoint answers 400/422 with it.
/// </summary>
internal sealed class LabelStudioValidationException(string field, string message) : Exception(message)
{
    /// <summary>The offending JSON member, e.g. <c>context.result[2].value.x</c>.</summary>
    public string Field { get; } = field;
}
