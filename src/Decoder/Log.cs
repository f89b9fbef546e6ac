using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Decoder;

/// <summary>Decoder log messages; EventIds 3000-3999 (never renumber, rename or reuse one).</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Information, "Decoder {Path} loaded: format {Format}, provider {Provider}.")]
    public static partial void DecoderLoaded(ILogger logger, string path, string format, string provider);

    // Next free id: 3002
}
