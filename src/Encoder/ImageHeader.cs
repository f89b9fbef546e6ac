namespace Sam2Interactive.Encoder;

/// <summary>An image's size from its header, for doors that must answer before the image is decoded and encoded.</summary>
public static class ImageHeader
{
    /// <summary>
    /// The oriented (EXIF applied) width and height, read from the header alone, and refused as
    /// <see cref="Sam2Encoder.EncodeImage"/> would refuse it: above <paramref name="maxPixels"/> (MAX_IMAGE_PIXELS).
    /// </summary>
    /// <exception cref="ImageDecodeException">Empty, unrecognised or truncated header, or too many pixels.</exception>
    public static (int Width, int Height) Read(ReadOnlySpan<byte> encoded, long maxPixels)
    {
        var (width, height) = ImageDecoder.ReadSize(encoded);
        var pixels = (long)width * height;
        if (pixels > maxPixels)
            throw new ImageDecodeException(ImageDecodeError.TooLarge, $"image is {width}×{height} = {pixels} pixels, above MAX_IMAGE_PIXELS={maxPixels}");
        return (width, height);
    }
}
