using NUnit.Framework;
using Sam2Interactive.Decoder;
using SkiaSharp;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>The PNG mask writer, checked by an independent decoder (Skia's libpng), pixel for pixel.</summary>
[TestFixture]
[Category("Fast")]
public sealed class MaskPngTests
{
    private static byte[] Decode(ReadOnlySpan<byte> png, out SKImageInfo info)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(png.ToArray()));
        Assert.That(codec, Is.Not.Null, "not a PNG Skia can open");
        info = codec!.Info;
        using var bitmap = new SKBitmap(new SKImageInfo(info.Width, info.Height, SKColorType.Gray8, SKAlphaType.Opaque));
        Assert.That(codec.GetPixels(bitmap.Info, bitmap.GetPixels()), Is.EqualTo(SKCodecResult.Success));
        return bitmap.GetPixelSpan().ToArray();
    }

    private static byte[] Ellipses(int w, int h)
    {
        var mask = new byte[w * h];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                double a = (x - 0.3 * w) / (0.2 * w), b = (y - 0.35 * h) / (0.15 * h), c = (x - 0.7 * w) / (0.12 * w), d = (y - 0.7 * h) / (0.25 * h);
                mask[y * w + x] = a * a + b * b <= 1 || c * c + d * d <= 1 ? (byte)255 : (byte)0;
            }
        }
        return mask;
    }

    [TestCase(1, 1)]       // smallest image
    [TestCase(17, 5)]      // odd width
    [TestCase(640, 480)]
    [TestCase(4000, 3000)] // the size the click path is measured at
    public void Encode_Ellipses_DecodesToTheSameGrayscalePixels(int w, int h)
    {
        var mask = Ellipses(w, h);

        using var png = MaskPng.Encode(mask, w, h);
        var pixels = Decode(png.WrittenMemory.Span, out var info);

        using (Assert.EnterMultipleScope())
        {
            Assert.That((info.Width, info.Height, info.ColorType), Is.EqualTo((w, h, SKColorType.Gray8)));
            Assert.That(pixels, Is.EqualTo(mask));
        }
    }

    [TestCase("disc", 4000, 3000)]
    [TestCase("waves", 1, 999)]
    [TestCase("special", 777, 555)]
    public void EncodeMask_StreamedRows_SameBytesAsEncodeOfPixels(string field, int w, int h)
    {
        var logits = MaskUpsamplerTests.Logits(field);
        using var mask = MaskPrediction.FromLogits(logits, w, h);

        using var streamed = MaskPng.Encode(mask);
        using var whole = MaskPng.Encode(MaskUpsamplerTests.Reference(logits, w, h), w, h);

        Assert.That(streamed.WrittenMemory.ToArray(), Is.EqualTo(whole.WrittenMemory.ToArray()));
        Assert.That(mask.HasPixels, Is.False, "the W×H mask was never produced");
    }

    [TestCase(17, 5)]   // odd width
    [TestCase(640, 480)]
    public void Encode_WithAlpha_ForegroundOpaqueWhiteBackgroundTransparent(int w, int h)
    {
        var mask = Ellipses(w, h);

        using var png = MaskPng.Encode(mask, w, h, alpha: true);
        using var codec = SKCodec.Create(new SKMemoryStream(png.WrittenMemory.ToArray()));
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        Assert.That(codec.GetPixels(bitmap.Info, bitmap.GetPixels()), Is.EqualTo(SKCodecResult.Success));
        var rgba = bitmap.GetPixelSpan().ToArray();

        // Red (what the prompt UI reads) and alpha (what a BitmaskLabels region colours) both equal the mask.
        Assert.That(Enumerable.Range(0, w * h).Select(i => rgba[4 * i]), Is.EqualTo(mask));
        Assert.That(Enumerable.Range(0, w * h).Select(i => rgba[4 * i + 3]), Is.EqualTo(mask));
    }

    [Test]
    public void Encode_NonZeroValues_BecomeForeground255()
    {
        byte[] mask = [0, 1, 7, 255, 0, 128];

        using var png = MaskPng.Encode(mask, 3, 2);

        Assert.That(Decode(png.WrittenMemory.Span, out _), Is.EqualTo(new byte[] { 0, 255, 255, 255, 0, 255 }));
    }

    [Test]
    public void Encode_EmptyMask4000x3000_CompressesToAFewKilobytes()
    {
        using var png = MaskPng.Encode(new byte[4000 * 3000], 4000, 3000);

        Assert.That(png.WrittenCount, Is.LessThan(32 * 1024));
    }

    [Test]
    public void Finish_RowsMissing_Throws()
    {
        using var writer = new MaskPng(4, 3);
        writer.AppendRow(new byte[4]);

        Assert.That(() => writer.Finish(), Throws.InvalidOperationException.With.Message.Contains("1 of 3 rows"));
    }
}
