using Microsoft.Extensions.Configuration;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

/// <summary>Post-processing and concurrency settings of the decoder stage.</summary>
public sealed class DecoderOptions
{
    /// <value><c>MAX_HOLE_AREA</c>: background islands of at most this many low-res pixels are filled. 0 (default) is off, as in SAM2ImagePredictor.</value>
    public int MaxHoleArea { get; set; }

    /// <value><c>MAX_SPRINKLE_AREA</c>: foreground islands of at most this many low-res pixels are removed. 0 (default) is off.</value>
    public int MaxSprinkleArea { get; set; }

    /// <value><c>WORKERS</c>: decoder runs at once (several boxes of one call run side by side up to this). Default 2.</value>
    public int Workers { get; set; } = 2;

    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public static DecoderOptions FromConfiguration(IConfiguration configuration) => new()
    {
        MaxHoleArea = Settings.ReadInt(configuration, "MAX_HOLE_AREA", 0, 0, 65536),
        MaxSprinkleArea = Settings.ReadInt(configuration, "MAX_SPRINKLE_AREA", 0, 0, 65536),
        Workers = Settings.ReadInt(configuration, "WORKERS", 2, 1, 256),
    };
}
