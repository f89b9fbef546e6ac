namespace Sam2Interactive.Decoder;

/// <summary>Post-processing and concurrency settings of the decoder stage. Api fills them from the environment.</summary>
public sealed class DecoderOptions
{
    /// <value><c>MAX_HOLE_AREA</c>: background islands of at most this many low-res pixels are filled. 0 (default) is off, as in SAM2ImagePredictor.</value>
    public int MaxHoleArea { get; init; }

    /// <value><c>MAX_SPRINKLE_AREA</c>: foreground islands of at most this many low-res pixels are removed. 0 (default) is off.</value>
    public int MaxSprinkleArea { get; init; }

    /// <value><c>WORKERS</c>: decoder runs at once (several boxes of one call run side by side up to this). Default 2.</value>
    public int Workers { get; init; } = 2;
}
