namespace Sam2Interactive.Api.LabelStudio;

/// <summary>Why an image could not be fetched.</summary>
internal enum ImageFetchFailure
{
    /// <summary>The task's image value is not a URI this backend can resolve.</summary>
    InvalidUri,

    /// <summary>A setting needed for this URI (LABEL_STUDIO_URL, ...) is missing.</summary>
    NotConfigured,

    /// <summary>A local-files path escapes LOCAL_FILES_DOCUMENT_ROOT.</summary>
    PathOutsideRoot,

    NotFound,

    /// <summary>Label Studio (or the storage) answered 401/403.</summary>
    Rejected,

    TooLarge,

    /// <summary>Connect errors or 5xx/408/429 after retries, or another unexpected status.</summary>
    Unreachable,

    Timeout,

    /// <summary>The URL's host or address is not allowed by IMAGE_URL_POLICY / IMAGE_URL_ALLOWLIST (loopback, private,
    /// link-local, ... or not Label Studio under label-studio-only).</summary>
    Refused,
}

/// <summary>
/// An image fetch failed. <see cref="Exception.Message"/> says what to fix and never contains a token or a presigned
/// query string; <see cref="StatusCode"/> is the HTTP status the endpoint should answer with (never 401, which LS
/// would read as a Basic-auth failure of the backend itself).
/// </summary>
internal sealed class ImageFetchException(ImageFetchFailure failure, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public ImageFetchFailure Failure { get; } = failure;

    public int StatusCode => Failure switch
    {
        ImageFetchFailure.InvalidUri => 400,
        ImageFetchFailure.PathOutsideRoot => 400,
        ImageFetchFailure.NotFound => 404,
        ImageFetchFailure.Refused => 403,
        ImageFetchFailure.TooLarge => 413,
        ImageFetchFailure.NotConfigured => 500,
        ImageFetchFailure.Timeout => 504,
        _ => 502,
    };
}
