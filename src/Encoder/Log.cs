using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Encoder;

/// <summary>Encoder log messages; EventIds 2000-2999 (never renumber, rename or reuse one).</summary>
internal static partial class Log
{
    [LoggerMessage(2001, LogLevel.Warning, "DEVICE=cuda but this build has no CUDA provider (built without -p:OrtFlavor=Cuda); running on CPU.")]
    public static partial void CudaNotInBuild(ILogger logger);

    [LoggerMessage(2002, LogLevel.Warning, "DEVICE=cuda but the CUDA provider could not load ({Reason}); running on CPU. The CUDA build needs CUDA 13 + cuDNN 9 and a driver.")]
    public static partial void CudaUnavailable(ILogger logger, string reason);

    [LoggerMessage(2003, LogLevel.Information, "Encoder {Path} loaded: format {Format}, provider {Provider}.")]
    public static partial void EncoderLoaded(ILogger logger, string path, string format, string provider);

    // Next free id: 2004
}
