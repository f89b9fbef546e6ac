namespace Sam2Interactive.Encoder;

/// <summary>
/// The encoder's output for one image: the three tensors the prompt decoder takes, plus the original image size.
/// The tensors share one array from an <see cref="EmbeddingPool"/>, returned when the last reference is released, so a
/// cache can hand the same instance to concurrent clicks without copying its 16 MiB.
/// </summary>
/// <remarks>
/// Ownership: the creator holds one reference. Every other holder calls <see cref="TryAddReference"/> and, on success,
/// <see cref="Dispose"/> exactly once when done.
/// </remarks>
public sealed class ImageEmbedding : IDisposable
{
    public const int ImageEmbedLength = Sam2Tensors.ImageEmbedLength;
    public const int HighResFeats0Length = Sam2Tensors.HighResFeats0Length;
    public const int HighResFeats1Length = Sam2Tensors.HighResFeats1Length;

    /// <summary>Floats in all three tensors (4 Mi: 16 MiB as float32).</summary>
    public const int TotalLength = Sam2Tensors.EmbeddingLength;

    private static int s_live;

    private readonly EmbeddingPool _pool;
    private float[]? _buffer;
    private int _references = 1;

    /// <summary>Rents an uninitialised buffer for an image of the given original size.</summary>
    /// <param name="pool">Where the buffer comes from and goes back to; <see cref="EmbeddingPool.Shared"/> when null.</param>
    public ImageEmbedding(int originalWidth, int originalHeight, EmbeddingPool? pool = null)
    {
        if (originalWidth <= 0 || originalHeight <= 0) throw new ArgumentOutOfRangeException(nameof(originalWidth), "image size must be positive");
        OriginalWidth = originalWidth;
        OriginalHeight = originalHeight;
        _pool = pool ?? EmbeddingPool.Shared;
        _buffer = _pool.Rent();
        Interlocked.Increment(ref s_live);
    }

    /// <summary>Embeddings whose buffers have not been returned yet (tests assert this goes back to its start value).</summary>
    public static int LiveCount => Volatile.Read(ref s_live);

    /// <summary>Original image width in pixels, after EXIF orientation (Label Studio's original_width).</summary>
    public int OriginalWidth { get; }

    /// <summary>Original image height in pixels, after EXIF orientation.</summary>
    public int OriginalHeight { get; }

    /// <summary>[1,256,64,64] float32, NCHW. Valid while a reference is held.</summary>
    public Memory<float> ImageEmbed => _buffer.AsMemory(0, ImageEmbedLength);

    /// <summary>[1,32,256,256] float32, NCHW. Valid while a reference is held.</summary>
    public Memory<float> HighResFeats0 => _buffer.AsMemory(ImageEmbedLength, HighResFeats0Length);

    /// <summary>[1,64,128,128] float32, NCHW. Valid while a reference is held.</summary>
    public Memory<float> HighResFeats1 => _buffer.AsMemory(ImageEmbedLength + HighResFeats0Length, HighResFeats1Length);

    /// <summary>Takes another reference unless the buffers are already gone.</summary>
    public bool TryAddReference()
    {
        var current = Volatile.Read(ref _references);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current) return true;
            current = seen;
        }
        return false;
    }

    /// <summary>Releases one reference; the last one returns the buffer to its pool.</summary>
    public void Dispose()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is null) return;
        _pool.Return(buffer);
        Interlocked.Decrement(ref s_live);
    }
}
