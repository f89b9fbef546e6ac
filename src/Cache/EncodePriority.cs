namespace Sam2Interactive.Cache;

/// <summary>Who is waiting for an encoder run; lower runs first.</summary>
public enum EncodePriority
{
    /// <summary>An annotator's click is waiting for the embedding.</summary>
    Click = 0,

    /// <summary>A task was opened (no-context /predict): the first click is likely seconds away.</summary>
    OpenedTask = 1,

    /// <summary>Import-time prefetch (webhook, POST /prefetch).</summary>
    Prefetch = 2,

    /// <summary>Automatic masks for tasks nobody has opened (<c>sam2i annotate</c>, queued pre-annotations) and their crops.</summary>
    Automatic = 3,
}
