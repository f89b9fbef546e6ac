namespace Sam2Interactive.Decoder;

/// <summary>Post-processing and concurrency settings of the decoder stage. Api fills them from the environment.</summary>
public sealed class DecoderOptions
{
    /// <value><c>MAX_HOLE_AREA</c>: background islands of at most this many low-res pixels are filled. 0 (default) is off, as in SAM2ImagePredictor.</value>
    public int MaxHoleArea { get; init; }

    /// <value><c>MAX_SPRINKLE_AREA</c>: foreground islands of at most this many low-res pixels are removed. 0 (default) is off.</value>
    public int MaxSprinkleArea { get; init; }

    /// <value><c>WORKERS</c>: decoder runs at once for one call (its several boxes run side by side up to this). Default: the
    /// number of cores, each run on one core (<see cref="Threads"/>).</value>
    public int Workers { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 256);

    /// <value><c>DECODER_THREADS</c>: ONNX Runtime intra-op threads of the decoder session; 0 lets ONNX Runtime choose (one per
    /// core). Default 1: concurrent clicks and the boxes of one call use the cores side by side, and on the benchmark machine a
    /// decoder run on two threads cost 1.3–1.6× the CPU of one for a wall time only ≈ 7 % shorter (docs/benchmarks.md).</value>
    public int Threads { get; init; } = 1;
}
