namespace Sam2Interactive.Api;

/// <summary>Whether the models are loaded and warmed; /health answers 503 with <see cref="Reason"/> until they are.</summary>
internal sealed class Readiness
{
    private volatile string? _reason = "loading models";

    public bool IsReady => _reason is null;

    public string? Reason => _reason;

    public void SetReady() => _reason = null;

    public void SetNotReady(string reason) => _reason = reason;
}
