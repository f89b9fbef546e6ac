using System.Buffers;

namespace Sam2Interactive.Encoder;

/// <summary>
/// RGB 8-bit pixels after EXIF orientation. Owns a buffer rented from <see cref="ArrayPool{T}.Shared"/>;
/// <see cref="Dispose"/> returns it exactly once, after which <see cref="Rgb"/> throws.
/// </summary>
internal sealed class DecodedImage : IDisposable
{
    private byte[]? _buffer;

    /// <summary>Takes ownership of <paramref name="rentedBuffer"/> (from <see cref="ArrayPool{T}.Shared"/>), which must hold
    /// at least <paramref name="pixelWidth"/>·<paramref name="pixelHeight"/>·3 bytes of row-major R,G,B.</summary>
    public DecodedImage(byte[] rentedBuffer, int width, int height, int pixelWidth, int pixelHeight)
    {
        ArgumentNullException.ThrowIfNull(rentedBuffer);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixelWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixelHeight);
        ArgumentOutOfRangeException.ThrowIfLessThan(rentedBuffer.LongLength, (long)pixelWidth * pixelHeight * 3, nameof(rentedBuffer));
        _buffer = rentedBuffer;
        Width = width;
        Height = height;
        PixelWidth = pixelWidth;
        PixelHeight = pixelHeight;
    }

    /// <summary>Width of the full-resolution image after EXIF orientation: Label Studio's <c>original_width</c>.</summary>
    public int Width { get; }

    /// <summary>Height of the full-resolution image after EXIF orientation: Label Studio's <c>original_height</c>.</summary>
    public int Height { get; }

    /// <summary>Width of <see cref="Rgb"/>; smaller than <see cref="Width"/> when a JPEG was DCT-scaled.</summary>
    public int PixelWidth { get; }

    /// <summary>Height of <see cref="Rgb"/>; smaller than <see cref="Height"/> when a JPEG was DCT-scaled.</summary>
    public int PixelHeight { get; }

    /// <summary>PixelWidth·PixelHeight·3 bytes, row-major, R,G,B. Valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Rgb
    {
        get
        {
            var buffer = _buffer;
            ObjectDisposedException.ThrowIf(buffer is null, this);
            return buffer.AsSpan(0, PixelWidth * PixelHeight * 3);
        }
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
