namespace Sam2Interactive.Encoder;

/// <summary>Why an upload could not be turned into pixels; lets the API pick a status code without parsing messages.</summary>
public enum ImageDecodeError
{
    /// <summary>Zero bytes were supplied.</summary>
    Empty,

    /// <summary>No codec recognises the bytes (HTML error page, text, unsupported container).</summary>
    UnsupportedFormat,

    /// <summary>The format is recognised but the data ends early or is malformed.</summary>
    Corrupt,

    /// <summary>The header announces more pixels than the configured limit; nothing was decoded.</summary>
    TooLarge,
}

/// <summary>
/// An uploaded image could not be decoded. <see cref="Exception.Message"/> is safe to show to the client:
/// it names the problem and never contains file contents or paths.
/// </summary>
public sealed class ImageDecodeException : Exception
{
    public ImageDecodeException(ImageDecodeError error, string message)
        : base(message)
    {
        Error = error;
    }

    public ImageDecodeError Error { get; }
}
