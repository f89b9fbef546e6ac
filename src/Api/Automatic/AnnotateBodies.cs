using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.Automatic;

/// <summary>
/// <c>POST /annotate</c> body (this server's own endpoint, used by <c>sam2i annotate --backend</c>): one Label Studio task,
/// its project id and the project's label config.
/// </summary>
internal sealed class AnnotateRequest
{
    public LabelStudioTask? Task { get; init; }

    public long? Project { get; init; }

    public string? LabelConfig { get; init; }
}

/// <summary><c>POST /annotate</c> answer.</summary>
internal sealed class AnnotateResponse
{
    public long Task { get; init; }

    /// <summary><c>created</c>, <c>exists</c> (Label Studio already has one of this model version) or <c>joined</c>.</summary>
    public required string Outcome { get; init; }

    public int Regions { get; init; }

    public required string ModelVersion { get; init; }
}
