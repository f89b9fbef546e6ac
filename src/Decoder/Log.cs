using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Decoder;

/// <summary>Decoder log messages; EventIds 3000-3999.</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Information, "Decoder {Path} loaded: format {Format}.")]
    public static partial void DecoderLoaded(ILogger logger, string path, string format);

    // Next free id: 3002
}
