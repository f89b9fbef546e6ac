using System.Buffers;

namespace Sam2Interactive.Encoder;

/// <summary>
/// The encoder's output for one image: the three tensors the prompt decoder takes, plus the original image size.
/// Buffers are rented from <see cref="ArrayPool{T}.Shared"/> and returned when the last reference is released, so a cache can
/// hand the same instance to concurrent clicks without copying its 16 MiB.
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

    private float[]? _imageEmbed;
    private float[]? _highResFeats0;
    private float[]? _highResFeats1;
    private int _references = 1;

    /// <summary>Rents uninitialised buffers for an image of the given original size.</summary>
    public ImageEmbedding(int originalWidth, int originalHeight)
    {
        if (originalWidth <= 0 || originalHeight <= 0) throw new ArgumentOutOfRangeException(nameof(originalWidth), "image size must be positive");
        OriginalWidth = originalWidth;
        OriginalHeight = originalHeight;
        _imageEmbed = ArrayPool<float>.Shared.Rent(ImageEmbedLength);
        _highResFeats0 = ArrayPool<float>.Shared.Rent(HighResFeats0Length);
        _highResFeats1 = ArrayPool<float>.Shared.Rent(HighResFeats1Length);
        Interlocked.Increment(ref s_live);
    }

    /// <summary>Embeddings whose buffers have not been returned yet (tests assert this goes back to its start value).</summary>
    public static int LiveCount => Volatile.Read(ref s_live);

    /// <summary>Original image width in pixels, after EXIF orientation (Label Studio's original_width).</summary>
    public int OriginalWidth { get; }

    /// <summary>Original image height in pixels, after EXIF orientation.</summary>
    public int OriginalHeight { get; }

    /// <summary>[1,256,64,64] float32, NCHW. Valid while a reference is held.</summary>
    public Memory<float> ImageEmbed => _imageEmbed.AsMemory(0, ImageEmbedLength);

    /// <summary>[1,32,256,256] float32, NCHW. Valid while a reference is held.</summary>
    public Memory<float> HighResFeats0 => _highResFeats0.AsMemory(0, HighResFeats0Length);

    /// <summary>[1,64,128,128] float32, NCHW. Valid while a reference is held.</summary>
    public Memory<float> HighResFeats1 => _highResFeats1.AsMemory(0, HighResFeats1Length);

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

    /// <summary>Releases one reference; the last one returns the buffers to the pool.</summary>
    public void Dispose()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        Return(ref _imageEmbed);
        Return(ref _highResFeats0);
        Return(ref _highResFeats1);
        Interlocked.Decrement(ref s_live);
    }

    private static void Return(ref float[]? buffer)
    {
        var b = Interlocked.Exchange(ref buffer, null);
        if (b is not null) ArrayPool<float>.Shared.Return(b);
    }
}
