namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// How to reach Label Studio for task images. Filled from the environment variables the seed and the SDK use
/// (<see cref="Configuration.Sam2Settings.ReadLabelStudio"/>).
/// </summary>
internal sealed class LabelStudioOptions
{
    public const long DefaultMaxImageBytes = 64L * 1024 * 1024;

    /// <summary>LABEL_STUDIO_URL (alias LABEL_STUDIO_HOST): base URL incl. any reverse-proxy path prefix; no trailing '/'.</summary>
    public Uri? Url { get; init; }

    /// <summary>LABEL_STUDIO_API_KEY (alias LABEL_STUDIO_ACCESS_TOKEN): legacy token or personal access token (JWT refresh).</summary>
    public string? ApiKey { get; init; }

    /// <summary>LOCAL_FILES_DOCUMENT_ROOT: when set, <c>/data/local-files/?d=</c> paths are read from here if present.</summary>
    public string? LocalFilesDocumentRoot { get; init; }

    /// <summary>MAX_IMAGE_BYTES: larger images are rejected (reading stops at this size).</summary>
    public long MaxImageBytes { get; init; } = DefaultMaxImageBytes;

    /// <summary>IMAGE_URL_POLICY: <c>any</c> (default) or <c>label-studio-only</c>.</summary>
    public ImageUrlPolicy UrlPolicy { get; init; } = ImageUrlPolicy.Any;

    /// <summary>IMAGE_URL_ALLOWLIST: hosts, origins and address ranges fetched even when private or not Label Studio.</summary>
    public ImageUrlAllowlist Allowlist { get; init; } = ImageUrlAllowlist.Empty;

    /// <summary>FETCH_TIMEOUT (seconds): budget for one image fetch including retries, redirects and the token refresh.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt for connect errors, 5xx, 408 and 429.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>First retry delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
}
