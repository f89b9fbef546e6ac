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
    /// <summary>[1,256,64,64]: samexporter <c>image_embed</c>, onnx-community <c>image_embeddings.2</c>.</summary>
    public static readonly long[] ImageEmbedShape = [1, 256, 64, 64];
    /// <summary>[1,32,256,256]: <c>high_res_feats_0</c> / <c>image_embeddings.0</c>.</summary>
    public static readonly long[] HighResFeats0Shape = [1, 32, 256, 256];
    /// <summary>[1,64,128,128]: <c>high_res_feats_1</c> / <c>image_embeddings.1</c>.</summary>
    public static readonly long[] HighResFeats1Shape = [1, 64, 128, 128];

    public const int ImageEmbedLength = 256 * 64 * 64;
    public const int HighResFeats0Length = 32 * 256 * 256;
    public const int HighResFeats1Length = 64 * 128 * 128;
    /// <summary>Floats in all three tensors (4 Mi: 16 MiB as float32).</summary>
    public const int TotalLength = ImageEmbedLength + HighResFeats0Length + HighResFeats1Length;

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

    private static int s_live;

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
