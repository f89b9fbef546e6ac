namespace Sam2Interactive.Encoder;

/// <summary>
/// An image decoded at its full resolution (EXIF orientation applied, never DCT-scaled), kept to encode crops of it: SAM2's
/// automatic mask generator runs the encoder again on crops of the original pixels (<c>image[y0:y1, x0:x1]</c>).
/// Owns a pooled buffer of width·height·3 bytes: dispose exactly once.
/// </summary>
public sealed class FullResolutionImage : IDisposable
{
    private readonly DecodedImage _image;

    private FullResolutionImage(DecodedImage image) => _image = image;

    /// <summary>Decodes <paramref name="encoded"/> at full size; refused from its header above <paramref name="maxPixels"/>.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image, or too large.</exception>
    public static FullResolutionImage Decode(ReadOnlySpan<byte> encoded, long maxPixels) =>
        new(ImageDecoder.Decode(encoded, maxPixels, minShortSide: int.MaxValue));

    /// <summary>Width after EXIF orientation.</summary>
    public int Width => _image.Width;

    /// <summary>Height after EXIF orientation.</summary>
    public int Height => _image.Height;

    /// <summary>Copies the RGB bytes of [x0, x1) × [y0, y1) into <paramref name="destination"/>, row-major.</summary>
    internal void CopyCrop(int x0, int y0, int x1, int y1, Span<byte> destination)
    {
        if (x0 < 0 || y0 < 0 || x1 > Width || y1 > Height || x0 >= x1 || y0 >= y1)
            throw new ArgumentOutOfRangeException(nameof(x0), $"crop [{x0},{x1})×[{y0},{y1}) is not inside the {Width}×{Height} image");
        var rgb = _image.Rgb;
        var rowBytes = (x1 - x0) * 3;
        for (var y = y0; y < y1; y++)
        {
            rgb.Slice((y * Width + x0) * 3, rowBytes).CopyTo(destination.Slice((y - y0) * rowBytes, rowBytes));
        }
    }

    public void Dispose() => _image.Dispose();
}
