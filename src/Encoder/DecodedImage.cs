using System.Buffers;

namespace Sam2Interactive.Encoder;

/// <summary>
/// 8-bit pixels after EXIF orientation: R,G,B, or R,G,B,A when the decoder was allowed to hand over its RGBA output
/// without the copy that drops alpha (<see cref="BytesPerPixel"/>). Owns a buffer rented from <see cref="ArrayPool{T}.Shared"/>;
/// <see cref="Dispose"/> returns it exactly once, after which <see cref="Pixels"/> throws.
/// </summary>
internal sealed class DecodedImage : IDisposable
{
    private byte[]? _buffer;

    /// <summary>Takes ownership of <paramref name="rentedBuffer"/> (from <see cref="ArrayPool{T}.Shared"/>), which must hold
    /// at least <paramref name="pixelWidth"/>·<paramref name="pixelHeight"/>·<paramref name="bytesPerPixel"/> bytes of
    /// row-major R,G,B (3) or R,G,B,A (4).</summary>
    public DecodedImage(byte[] rentedBuffer, int width, int height, int pixelWidth, int pixelHeight, int bytesPerPixel = 3)
    {
        if (bytesPerPixel is not (3 or 4)) throw new ArgumentOutOfRangeException(nameof(bytesPerPixel), bytesPerPixel, "3 (RGB) or 4 (RGBA)");
        ArgumentNullException.ThrowIfNull(rentedBuffer);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixelWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixelHeight);
        ArgumentOutOfRangeException.ThrowIfLessThan(rentedBuffer.LongLength, (long)pixelWidth * pixelHeight * bytesPerPixel, nameof(rentedBuffer));
        _buffer = rentedBuffer;
        Width = width;
        Height = height;
        PixelWidth = pixelWidth;
        PixelHeight = pixelHeight;
        BytesPerPixel = bytesPerPixel;
    }

    /// <summary>Width of the full-resolution image after EXIF orientation: Label Studio's <c>original_width</c>.</summary>
    public int Width { get; }

    /// <summary>Height of the full-resolution image after EXIF orientation: Label Studio's <c>original_height</c>.</summary>
    public int Height { get; }

    /// <summary>Width of <see cref="Rgb"/>; smaller than <see cref="Width"/> when a JPEG was DCT-scaled.</summary>
    public int PixelWidth { get; }

    /// <summary>Height of <see cref="Rgb"/>; smaller than <see cref="Height"/> when a JPEG was DCT-scaled.</summary>
    public int PixelHeight { get; }

    /// <summary>3 (R,G,B) or 4 (R,G,B,A; alpha is ignored, as PIL's <c>convert("RGB")</c> drops it).</summary>
    public int BytesPerPixel { get; }

    /// <summary>PixelWidth·PixelHeight·<see cref="BytesPerPixel"/> bytes, row-major. Valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Pixels
    {
        get
        {
            var buffer = _buffer;
            ObjectDisposedException.ThrowIf(buffer is null, this);
            return buffer.AsSpan(0, PixelWidth * PixelHeight * BytesPerPixel);
        }
    }

    /// <summary>PixelWidth·PixelHeight·3 bytes, row-major, R,G,B. Valid until <see cref="Dispose"/>.</summary>
    /// <exception cref="InvalidOperationException">The image holds RGBA (<see cref="BytesPerPixel"/> 4): read <see cref="Pixels"/>.</exception>
    public ReadOnlySpan<byte> Rgb => BytesPerPixel == 3
        ? Pixels
        : throw new InvalidOperationException("this image holds R,G,B,A pixels (BytesPerPixel 4); read Pixels");

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
