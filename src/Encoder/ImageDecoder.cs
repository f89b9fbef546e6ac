using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace Sam2Interactive.Encoder;

/// <summary>
/// Turns uploaded bytes into the RGB pixels SAM2ImagePredictor would see after
/// <c>ImageOps.exif_transpose(Image.open(f)).convert("RGB")</c>, using SkiaSharp.
/// </summary>
internal static class ImageDecoder
{
    /// <summary>Pillow warns above its <c>MAX_IMAGE_PIXELS</c> (~89 MP) and refuses above twice that; 100 MP admits 12k×8k panoramas.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>SAM2 resizes to 1024², so a JPEG is never DCT-scaled below a 1024 short side.</summary>
    public const int DefaultMinShortSide = Sam2Preprocessor.InputSize;

    // Output tile edge for the rotating/mirroring copy: a 64-pixel column of RGBA source rows is 64 cache lines,
    // which stays in L1 while the tile is written, instead of one cache miss per pixel for a full transposed row.
    private const int OrientTile = 64;

    /// <summary>
    /// Decodes <paramref name="encoded"/> (any format Skia reads: JPEG, PNG, WebP, GIF, BMP, ICO, WBMP) to RGB 8-bit with EXIF
    /// orientation applied. The header is read first; nothing is decoded when width·height exceeds <paramref name="maxPixels"/>.
    /// Alpha is dropped without compositing (PIL <c>convert("RGB")</c> on unpremultiplied data), grayscale becomes R=G=B,
    /// 16-bit samples become 8-bit, animated images yield their first frame. No colour management is applied
    /// (embedded ICC profiles are ignored, as PIL does).
    /// A JPEG is decoded at the smallest libjpeg DCT scale (n/8) whose short side is still ≥ <paramref name="minShortSide"/>;
    /// <see cref="DecodedImage.Width"/>/<see cref="DecodedImage.Height"/> still report the full oriented size.
    /// </summary>
    /// <param name="allowRgba">When the image needs no reorientation, hand over Skia's RGBA output as it is
    /// (<see cref="DecodedImage.BytesPerPixel"/> 4) instead of copying it to RGB: what the preprocessing reads.</param>
    /// <returns>An image the caller owns and must dispose.</returns>
    /// <exception cref="ImageDecodeException">Empty, unrecognised, truncated/corrupt or oversized input.</exception>
    public static unsafe DecodedImage Decode(ReadOnlySpan<byte> encoded, long maxPixels = DefaultMaxPixels, int minShortSide = DefaultMinShortSide,
        bool allowRgba = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPixels);
        ArgumentOutOfRangeException.ThrowIfNegative(minShortSide);
        ThrowIfEmpty(encoded);

        // Skia reads the caller's bytes in place: the codec (and the SKData it references) is disposed inside `fixed`.
        fixed (byte* source = encoded)
        {
            using var codec = OpenCodec(source, encoded.Length);
            var info = codec.Info;
            var origin = codec.EncodedOrigin;
            var (width, height) = Orient(info.Width, info.Height, origin);
            var pixelCount = (long)info.Width * info.Height;
            if (pixelCount > maxPixels)
            {
                throw new ImageDecodeException(ImageDecodeError.TooLarge,
                    $"image is {width}×{height} = {pixelCount} pixels, above MAX_IMAGE_PIXELS={maxPixels}");
            }

            var decodeSize = codec.EncodedFormat == SKEncodedImageFormat.Jpeg
                ? ChooseJpegScale(codec, minShortSide)
                : new SKSizeI(info.Width, info.Height);
            var rgbaLength = (long)decodeSize.Width * decodeSize.Height * 4;
            if (rgbaLength > Array.MaxLength)
            {
                throw new ImageDecodeException(ImageDecodeError.TooLarge,
                    $"image is {width}×{height} = {pixelCount} pixels, too large to decode in one buffer");
            }

            // Null colour space: Skia applies no colour transform, matching PIL (which ignores ICC profiles).
            var target = new SKImageInfo(decodeSize.Width, decodeSize.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            var rgba = ArrayPool<byte>.Shared.Rent((int)rgbaLength);
            var handedOver = false;
            try
            {
                SKCodecResult result;
                fixed (byte* pixels = rgba)
                {
                    result = codec.GetPixels(target, (IntPtr)pixels);
                }

                if (result != SKCodecResult.Success)
                {
                    throw result is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput or SKCodecResult.InvalidInput
                        ? Corrupt()
                        : new ImageDecodeException(ImageDecodeError.UnsupportedFormat,
                            $"unsupported image format ({codec.EncodedFormat} could not be decoded to RGB: {result})");
                }

                if (allowRgba && origin == SKEncodedOrigin.TopLeft)
                {
                    handedOver = true;
                    return new DecodedImage(rgba, width, height, decodeSize.Width, decodeSize.Height, bytesPerPixel: 4);
                }

                var (pixelWidth, pixelHeight) = Orient(decodeSize.Width, decodeSize.Height, origin);
                var rgb = ArrayPool<byte>.Shared.Rent(pixelWidth * pixelHeight * 3);
                try
                {
                    RgbaToOrientedRgb(rgba.AsSpan(0, (int)rgbaLength), decodeSize.Width, decodeSize.Height, origin, rgb);
                    return new DecodedImage(rgb, width, height, pixelWidth, pixelHeight);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(rgb);
                    throw;
                }
            }
            finally
            {
                if (!handedOver) ArrayPool<byte>.Shared.Return(rgba);
            }
        }
    }

    /// <summary>Oriented (width, height) from the header alone; no pixel data is decoded and no size limit applies.</summary>
    /// <exception cref="ImageDecodeException">Empty, unrecognised or truncated header.</exception>
    public static unsafe (int Width, int Height) ReadSize(ReadOnlySpan<byte> encoded)
    {
        ThrowIfEmpty(encoded);
        fixed (byte* source = encoded)
        {
            using var codec = OpenCodec(source, encoded.Length);
            return Orient(codec.Info.Width, codec.Info.Height, codec.EncodedOrigin);
        }
    }

    /// <summary>Size after applying <paramref name="origin"/>: EXIF orientations 5-8 swap width and height.</summary>
    internal static (int Width, int Height) Orient(int width, int height, SKEncodedOrigin origin) =>
        origin >= SKEncodedOrigin.LeftTop ? (height, width) : (width, height);

    /// <summary>
    /// Copies R,G,B of an unrotated RGBA image (<paramref name="width"/>×<paramref name="height"/> as stored) into
    /// <paramref name="rgb"/> laid out as the displayed image, i.e. what PIL's <c>exif_transpose</c> produces.
    /// </summary>
    internal static void RgbaToOrientedRgb(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedOrigin origin, Span<byte> rgb)
    {
        var (outWidth, outHeight) = Orient(width, height, origin);
        ArgumentOutOfRangeException.ThrowIfLessThan(rgba.Length, width * height * 4, nameof(rgba));
        ArgumentOutOfRangeException.ThrowIfLessThan(rgb.Length, outWidth * outHeight * 3, nameof(rgb));

        if (origin == SKEncodedOrigin.TopLeft)
        {
            StripAlpha(rgba[..(width * height * 4)], rgb);
            return;
        }

        // Source pixel index of output (x, y) = start + x·stepX + y·stepY.
        var last = width * height - 1;
        var (start, stepX, stepY) = origin switch
        {
            SKEncodedOrigin.TopRight => (width - 1, -1, width),          // 2: mirror left-right
            SKEncodedOrigin.BottomRight => (last, -1, -width),           // 3: rotate 180°
            SKEncodedOrigin.BottomLeft => ((height - 1) * width, 1, -width), // 4: mirror top-bottom
            SKEncodedOrigin.LeftTop => (0, width, 1),                    // 5: transpose
            SKEncodedOrigin.RightTop => ((height - 1) * width, -width, 1), // 6: rotate 90° clockwise
            SKEncodedOrigin.RightBottom => (last, -width, -1),           // 7: transverse
            SKEncodedOrigin.LeftBottom => (width - 1, width, -1),        // 8: rotate 90° counter-clockwise
            _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, "unknown EXIF orientation"),
        };

        ref var src = ref MemoryMarshal.GetReference(rgba);
        ref var dst = ref MemoryMarshal.GetReference(rgb);
        for (var tileY = 0; tileY < outHeight; tileY += OrientTile)
        {
            var endY = Math.Min(tileY + OrientTile, outHeight);
            for (var tileX = 0; tileX < outWidth; tileX += OrientTile)
            {
                var endX = Math.Min(tileX + OrientTile, outWidth);
                for (var y = tileY; y < endY; y++)
                {
                    var s = start + tileX * stepX + y * stepY;
                    var d = (y * outWidth + tileX) * 3;
                    for (var x = tileX; x < endX; x++, s += stepX, d += 3)
                    {
                        // Bounds: s stays in [0, width·height) by construction of (start, stepX, stepY); checked above.
                        ref var p = ref Unsafe.Add(ref src, s * 4);
                        Unsafe.Add(ref dst, d) = p;
                        Unsafe.Add(ref dst, d + 1) = Unsafe.Add(ref p, 1);
                        Unsafe.Add(ref dst, d + 2) = Unsafe.Add(ref p, 2);
                    }
                }
            }
        }
    }

    private static void StripAlpha(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        var pixels = rgba.Length / 4;
        ref var src = ref MemoryMarshal.GetReference(rgba);
        ref var dst = ref MemoryMarshal.GetReference(rgb);
        var i = 0;

        // Write 4 bytes (R,G,B + the next pixel's R slot, overwritten next iteration) while a 4-byte store still fits.
        for (; i < pixels - 1; i++)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, i * 3), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref src, i * 4)));
        }

        for (; i < pixels; i++)
        {
            Unsafe.Add(ref dst, i * 3) = Unsafe.Add(ref src, i * 4);
            Unsafe.Add(ref dst, i * 3 + 1) = Unsafe.Add(ref src, i * 4 + 1);
            Unsafe.Add(ref dst, i * 3 + 2) = Unsafe.Add(ref src, i * 4 + 2);
        }
    }

    private static SKSizeI ChooseJpegScale(SKCodec codec, int minShortSide)
    {
        // libjpeg-turbo scales by n/8; GetScaledDimensions(n/8) returns exactly that scale's size (ceil(side·n/8)).
        for (var n = 1; n < 8; n++)
        {
            var size = codec.GetScaledDimensions(n / 8f);
            if (Math.Min(size.Width, size.Height) >= minShortSide)
            {
                return size;
            }
        }

        return new SKSizeI(codec.Info.Width, codec.Info.Height);
    }

    private static unsafe SKCodec OpenCodec(byte* source, int length)
    {
        // SKData.Create(IntPtr, int) wraps without copying; the stream refs the data and the codec takes the stream.
        using var data = SKData.Create((IntPtr)source, length);
        using var stream = new SKMemoryStream(data);
        var codec = SKCodec.Create(stream, out var result);
        if (codec is not null)
        {
            return codec;
        }

        // Skia also answers IncompleteInput for any input shorter than its sniffing window (32 bytes), so only call it
        // truncated when the bytes start like an image.
        var looksLikeImage = HasImageSignature(new ReadOnlySpan<byte>(source, length));
        throw looksLikeImage && result is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput or SKCodecResult.InvalidInput
            ? Corrupt()
            : new ImageDecodeException(ImageDecodeError.UnsupportedFormat,
                "unsupported image format (expected JPEG, PNG, WebP, GIF, BMP or ICO)");
    }

    /// <summary>Magic numbers of the formats Skia decodes (JPEG, PNG, GIF, WebP, BMP, ICO/CUR).</summary>
    private static bool HasImageSignature(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])
        || bytes.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])
        || bytes.StartsWith("GIF8"u8)
        || bytes.StartsWith("RIFF"u8)
        || bytes.StartsWith("BM"u8)
        || bytes.StartsWith((ReadOnlySpan<byte>)[0, 0, 1, 0])
        || bytes.StartsWith((ReadOnlySpan<byte>)[0, 0, 2, 0]);

    private static void ThrowIfEmpty(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty)
        {
            throw new ImageDecodeException(ImageDecodeError.Empty, "image is empty (0 bytes)");
        }
    }

    private static ImageDecodeException Corrupt() =>
        new(ImageDecodeError.Corrupt, "image is truncated or corrupt");
}
