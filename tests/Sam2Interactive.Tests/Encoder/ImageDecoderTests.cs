using NUnit.Framework;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;
using SkiaSharp;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class ImageDecoderTests
{
    [TestCase(640, 480)]
    [TestCase(480, 640)]
    [TestCase(333, 777)]  // odd sizes: no 4-byte row alignment anywhere
    [TestCase(2000, 1200)]
    public void Decode_Png_PixelsExact(int Width, int Height)
    {
        var rgb = TestImages.RandomRgb(Width, Height, seed: Width + Height);
        var png = TestImages.Encode(rgb, Width, Height, SKEncodedImageFormat.Png);

        using var image = ImageDecoder.Decode(png);

        AssertSize(image, Width, Height, Width, Height);
        Assert.That(image.Rgb.SequenceEqual(rgb), Is.True);
    }

    [TestCase(640, 480)]
    [TestCase(333, 777)]
    public void Decode_LosslessWebp_PixelsExact(int Width, int Height)
    {
        var rgb = TestImages.RandomRgb(Width, Height, seed: 7);
        var webp = TestImages.Encode(rgb, Width, Height, SKEncodedImageFormat.Webp);

        using var image = ImageDecoder.Decode(webp);

        AssertSize(image, Width, Height, Width, Height);
        Assert.That(image.Rgb.SequenceEqual(rgb), Is.True);
    }

    [TestCase(640, 480)]
    [TestCase(480, 640)]
    [TestCase(333, 777)]
    public void Decode_JpegBelowMinShortSide_FullSizeCloseToSource(int Width, int Height)
    {
        var rgb = TestImages.GradientRgb(Width, Height);
        var jpeg = TestImages.Encode(rgb, Width, Height, SKEncodedImageFormat.Jpeg, quality: 95);

        using var image = ImageDecoder.Decode(jpeg);

        AssertSize(image, Width, Height, Width, Height);
        Assert.That(MeanAbsoluteError(image.Rgb, rgb), Is.LessThan(2.0));
    }

    [TestCase(2000, 1200, 1024, 1750, 1050)] // 7/8 keeps the short side at 1050 ≥ 1024; 6/8 would give 900
    [TestCase(4000, 3000, 1024, 1500, 1125)] // 3/8
    [TestCase(4000, 3000, 0, 500, 375)]      // 1/8 is the smallest libjpeg scale
    [TestCase(4000, 3000, 3000, 4000, 3000)] // only the full size qualifies
    public void Decode_LargeJpeg_DctScaledKeepsShortSideAndReportsOriginalSize(
        int Width, int Height, int minShortSide, int pixelWidth, int pixelHeight)
    {
        var rgb = TestImages.GradientRgb(Width, Height);
        var jpeg = TestImages.Encode(rgb, Width, Height, SKEncodedImageFormat.Jpeg, quality: 90);

        using var image = ImageDecoder.Decode(jpeg, minShortSide: minShortSide);

        AssertSize(image, Width, Height, pixelWidth, pixelHeight);
        Assert.That(Math.Min(image.PixelWidth, image.PixelHeight), Is.GreaterThanOrEqualTo(Math.Min(minShortSide, Math.Min(Width, Height))));

        // The scaled pixels still show the gradient at the matching relative position (centre of the image).
        var centre = (image.PixelHeight / 2 * image.PixelWidth + image.PixelWidth / 2) * 3;
        Assert.That(image.Rgb[centre], Is.InRange(120, 135));
        Assert.That(image.Rgb[centre + 1], Is.InRange(120, 135));
    }

    [Test]
    public void Decode_LargeJpegWithExifRotation_ScaledAndSwapped()
    {
        var rgb = TestImages.GradientRgb(4000, 3000);
        var jpeg = TestImages.WithExifOrientation(TestImages.Encode(rgb, 4000, 3000, SKEncodedImageFormat.Jpeg, 90), 6);

        using var image = ImageDecoder.Decode(jpeg);

        AssertSize(image, 3000, 4000, 1125, 1500);
    }

    [Test]
    public void Decode_LargePng_NeverScaled()
    {
        var rgb = TestImages.GradientRgb(3000, 2048);
        var png = TestImages.Encode(rgb, 3000, 2048, SKEncodedImageFormat.Png);

        using var image = ImageDecoder.Decode(png);

        AssertSize(image, 3000, 2048, 3000, 2048);
        Assert.That(image.Rgb.SequenceEqual(rgb), Is.True);
    }

    [TestCase(1, 4)] // upright: Skia's RGBA is handed over without the copy that drops alpha
    [TestCase(6, 3)] // rotated: the orienting copy writes RGB
    public void Decode_AllowRgba_SameRgbValuesInTheGivenLayout(int orientation, int bytesPerPixel)
    {
        var jpeg = TestImages.WithExifOrientation(
            TestImages.Encode(TestImages.RandomRgb(67, 41, seed: 4), 67, 41, SKEncodedImageFormat.Jpeg, 90), orientation);
        using var rgb = ImageDecoder.Decode(jpeg);

        using var image = ImageDecoder.Decode(jpeg, allowRgba: true);

        Assert.That(image.BytesPerPixel, Is.EqualTo(bytesPerPixel));
        Assert.That((image.PixelWidth, image.PixelHeight), Is.EqualTo((rgb.PixelWidth, rgb.PixelHeight)));
        var pixels = image.Pixels;
        for (var i = 0; i < rgb.PixelWidth * rgb.PixelHeight; i++)
        {
            if (!pixels.Slice(i * bytesPerPixel, 3).SequenceEqual(rgb.Rgb.Slice(i * 3, 3))) Assert.Fail($"pixel {i} differs");
        }
        if (bytesPerPixel == 4) Assert.That(() => _ = image.Rgb.Length, Throws.InvalidOperationException);
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(7)]
    [TestCase(8)]
    public void Decode_ExifOrientation_EveryStoredPixelLandsWhereExifSays(int orientation)
    {
        const int Width = 67, Height = 41; // odd and unequal, so any swapped or off-by-one axis shows
        var jpeg = TestImages.Encode(TestImages.RandomRgb(Width, Height, seed: 3), Width, Height, SKEncodedImageFormat.Jpeg, 90);
        using var stored = ImageDecoder.Decode(jpeg);
        using var oriented = ImageDecoder.Decode(TestImages.WithExifOrientation(jpeg, orientation));

        var swaps = orientation >= 5;
        var (outWidth, outHeight) = swaps ? (Height, Width) : (Width, Height);
        AssertSize(oriented, outWidth, outHeight, outWidth, outHeight);

        // Forward mapping (stored (x, y) → displayed), written independently of the decoder's inverse mapping.
        var mismatches = 0;
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                var (dx, dy) = orientation switch
                {
                    1 => (x, y),
                    2 => (Width - 1 - x, y),
                    3 => (Width - 1 - x, Height - 1 - y),
                    4 => (x, Height - 1 - y),
                    5 => (y, x),
                    6 => (Height - 1 - y, x),
                    7 => (Height - 1 - y, Width - 1 - x),
                    _ => (y, Width - 1 - x),
                };
                var s = (y * Width + x) * 3;
                var d = (dy * outWidth + dx) * 3;
                if (!stored.Rgb.Slice(s, 3).SequenceEqual(oriented.Rgb.Slice(d, 3)))
                {
                    mismatches++;
                }
            }
        }

        Assert.That(mismatches, Is.Zero);
    }

    // A red block in the stored top-left corner; where it is displayed is the meaning of the EXIF tag.
    [TestCase(3, 96, 64, "bottom-right")] // rotate 180°
    [TestCase(6, 64, 96, "top-right")]    // rotate 90° clockwise: stored top-left goes to displayed top-right
    [TestCase(8, 64, 96, "bottom-left")]  // rotate 90° counter-clockwise
    public void Decode_ExifOrientation_TopLeftMarkerDisplayedAtExpectedCorner(int orientation, int Width, int Height, string corner)
    {
        const int StoredWidth = 96, StoredHeight = 64;
        var rgb = new byte[StoredWidth * StoredHeight * 3];
        for (var y = 0; y < StoredHeight; y++)
        {
            for (var x = 0; x < StoredWidth; x++)
            {
                var i = (y * StoredWidth + x) * 3;
                var red = x < 32 && y < 32;
                rgb[i] = red ? (byte)255 : (byte)128;
                rgb[i + 1] = red ? (byte)0 : (byte)128;
                rgb[i + 2] = red ? (byte)0 : (byte)128;
            }
        }

        var jpeg = TestImages.WithExifOrientation(TestImages.Encode(rgb, StoredWidth, StoredHeight, SKEncodedImageFormat.Jpeg, 95), orientation);
        using var image = ImageDecoder.Decode(jpeg);

        Assert.That((image.Width, image.Height), Is.EqualTo((Width, Height)));
        (int X, int Y)[] corners = [(8, 8), (Width - 9, 8), (8, Height - 9), (Width - 9, Height - 9)];
        string[] names = ["top-left", "top-right", "bottom-left", "bottom-right"];
        for (var k = 0; k < 4; k++)
        {
            var i = (corners[k].Y * Width + corners[k].X) * 3;
            var isRed = image.Rgb[i] > 200 && image.Rgb[i + 1] < 60 && image.Rgb[i + 2] < 60;
            Assert.That(isRed, Is.EqualTo(names[k] == corner), $"corner {names[k]}");
        }
    }

    [Test]
    public void ReadSize_ExifOrientation6_SwapsWidthAndHeight()
    {
        var jpeg = TestImages.Encode(TestImages.GradientRgb(640, 480), 640, 480, SKEncodedImageFormat.Jpeg, 90);

        Assert.Multiple(() =>
        {
            Assert.That(ImageDecoder.ReadSize(jpeg), Is.EqualTo((640, 480)));
            Assert.That(ImageDecoder.ReadSize(TestImages.WithExifOrientation(jpeg, 6)), Is.EqualTo((480, 640)));
            Assert.That(ImageDecoder.ReadSize(TestImages.WithExifOrientation(jpeg, 3)), Is.EqualTo((640, 480)));
        });
    }

    [Test]
    public void Decode_PngWithAlpha_DropsAlphaKeepsStraightRgb()
    {
        const int Width = 50, Height = 30;
        var rgba = new byte[Width * Height * 4];
        new Random(11).NextBytes(rgba);
        for (var i = 0; i < Width; i++)
        {
            rgba[i * 4 + 3] = 0; // fully transparent first row: its colour must survive too (no premultiply, no compositing)
        }

        var png = TestImages.EncodeRgba(rgba, Width, Height, SKEncodedImageFormat.Png);
        using var image = ImageDecoder.Decode(png);

        var expected = new byte[Width * Height * 3];
        for (var i = 0; i < Width * Height; i++)
        {
            expected[i * 3] = rgba[i * 4];
            expected[i * 3 + 1] = rgba[i * 4 + 1];
            expected[i * 3 + 2] = rgba[i * 4 + 2];
        }

        Assert.That(image.Rgb.SequenceEqual(expected), Is.True);
    }

    [TestCase(SKEncodedImageFormat.Png)]
    [TestCase(SKEncodedImageFormat.Jpeg)]
    public void Decode_Grayscale_ReplicatedToRgb(SKEncodedImageFormat format)
    {
        const int Width = 40, Height = 24;
        var gray = new byte[Width * Height];
        for (var i = 0; i < gray.Length; i++)
        {
            gray[i] = (byte)(i % Width * 6);
        }

        var encoded = TestImages.EncodeRaw(gray, new SKImageInfo(Width, Height, SKColorType.Gray8, SKAlphaType.Opaque), format);
        using var image = ImageDecoder.Decode(encoded);

        var rgb = image.Rgb;
        var maxError = 0;
        for (var i = 0; i < gray.Length; i++)
        {
            Assert.That(rgb[i * 3 + 1] == rgb[i * 3] && rgb[i * 3 + 2] == rgb[i * 3], $"pixel {i} is not gray");
            maxError = Math.Max(maxError, Math.Abs(rgb[i * 3] - gray[i]));
        }

        Assert.That(maxError, Is.LessThanOrEqualTo(format == SKEncodedImageFormat.Png ? 0 : 3));
    }

    [Test]
    public void Decode_Png16Bit_ReducedToEightBit()
    {
        // Samples v·257 (0x0101·v) have the same 8-bit value v whether the reduction truncates (PIL: high byte) or rounds.
        const int Width = 32, Height = 16;
        var samples = new ushort[Width * Height * 4];
        var expected = new byte[Width * Height * 3];
        for (var i = 0; i < Width * Height; i++)
        {
            for (var c = 0; c < 3; c++)
            {
                var v = (byte)((i * 7 + c * 85) % 256);
                samples[i * 4 + c] = (ushort)(v * 257);
                expected[i * 3 + c] = v;
            }

            samples[i * 4 + 3] = ushort.MaxValue;
        }

        var png = TestImages.EncodeRaw(samples, new SKImageInfo(Width, Height, SKColorType.Rgba16161616, SKAlphaType.Unpremul), SKEncodedImageFormat.Png);
        Assert.That(png[24], Is.EqualTo(16), "IHDR bit depth: Skia must have written a 16-bit PNG");

        using var image = ImageDecoder.Decode(png);

        Assert.That(image.Rgb.SequenceEqual(expected), Is.True);
    }

    [Test]
    public void Decode_AnimatedGif_FirstFrame()
    {
        using var image = ImageDecoder.Decode(TestImages.TwoFrameGif());

        AssertSize(image, 2, 1, 2, 1);
        Assert.That(image.Rgb.ToArray(), Is.EqualTo(new byte[] { 255, 0, 0, 255, 0, 0 }));
    }

    [Test]
    public void Decode_TruncatedJpeg_ThrowsCorrupt()
    {
        var jpeg = TestImages.Encode(TestImages.RandomRgb(320, 240, 5), 320, 240, SKEncodedImageFormat.Jpeg, 90);

        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(jpeg.AsSpan(0, jpeg.Length / 2)));

        Assert.That(ex.Error, Is.EqualTo(ImageDecodeError.Corrupt));
        Assert.That(ex.Message, Is.EqualTo("image is truncated or corrupt"));
    }

    [TestCase(10)] // shorter than Skia's 32-byte sniffing window: still recognised as a JPEG by its signature
    [TestCase(40)]
    public void Decode_JpegCutInsideHeader_ThrowsCorrupt(int length)
    {
        var jpeg = TestImages.Encode(TestImages.RandomRgb(32, 24, 5), 32, 24, SKEncodedImageFormat.Jpeg, 90);

        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(jpeg.AsSpan(0, length)));

        Assert.That(ex.Error, Is.EqualTo(ImageDecodeError.Corrupt));
    }

    [Test]
    public void Decode_ZeroBytes_ThrowsEmpty()
    {
        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode([]));

        Assert.That(ex.Error, Is.EqualTo(ImageDecodeError.Empty));
        Assert.That(ex.Message, Is.EqualTo("image is empty (0 bytes)"));
    }

    [Test]
    public void Decode_HtmlText_ThrowsUnsupportedFormat()
    {
        var html = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>"u8.ToArray();

        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(html));

        Assert.That(ex.Error, Is.EqualTo(ImageDecodeError.UnsupportedFormat));
        Assert.That(ex.Message, Does.StartWith("unsupported image format"));
    }

    [Test]
    public void Decode_OversizedPngHeader_RejectedWithoutDecoding()
    {
        var png = TestImages.PngHeaderOnly(30000, 30000);
        Assert.That(ImageDecoder.ReadSize(png), Is.EqualTo((30000, 30000)), "the hand-built header must parse");

        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(ex.Error, Is.EqualTo(ImageDecodeError.TooLarge));
        Assert.That(ex.Message, Is.EqualTo("image is 30000×30000 = 900000000 pixels, above MAX_IMAGE_PIXELS=100000000"));
        Assert.That(allocated, Is.LessThan(1 << 20), "a pixel buffer (3.6 GB RGBA) must never be requested");
    }

    [Test]
    public void Decode_PixelsAboveCustomLimit_ThrowsTooLarge()
    {
        var png = TestImages.Encode(TestImages.RandomRgb(100, 100, 1), 100, 100, SKEncodedImageFormat.Png);

        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, maxPixels: 9_999));

        Assert.That(ex.Message, Is.EqualTo("image is 100×100 = 10000 pixels, above MAX_IMAGE_PIXELS=9999"));
    }

    [Test]
    public void ReadSize_HtmlText_ThrowsUnsupportedFormat()
    {
        var ex = Assert.Throws<ImageDecodeException>(() => ImageDecoder.ReadSize("not an image"u8));

        Assert.That(ex.Error, Is.EqualTo(ImageDecodeError.UnsupportedFormat));
    }

    private static void AssertSize(DecodedImage image, int Width, int Height, int pixelWidth, int pixelHeight)
    {
        Assert.That((image.Width, image.Height, image.PixelWidth, image.PixelHeight),
            Is.EqualTo((Width, Height, pixelWidth, pixelHeight)));
        Assert.That(image.Rgb.Length, Is.EqualTo(pixelWidth * pixelHeight * 3));
    }

    private static double MeanAbsoluteError(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        long sum = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            sum += Math.Abs(actual[i] - expected[i]);
        }

        return (double)sum / expected.Length;
    }
}
