using NUnit.Framework;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>The lazily produced full-resolution mask: streamed rows, the materialised bytes and the area agree with the
/// per-pixel evaluation; full-size exports keep their copied bytes.</summary>
[TestFixture]
[Category("Fast")]
public sealed class MaskPredictionTests
{
    [TestCase("disc", 4000, 3000)]
    [TestCase("noise", 4000, 3000)] // produced in bands across cores when there are several
    [TestCase("waves", 333, 777)]
    [TestCase("waves", 1, 1)]
    public void Pixels_LowResMask_EqualsPerPixelEvaluation(string field, int width, int height)
    {
        var logits = MaskUpsamplerTests.Logits(field);
        using var mask = MaskPrediction.FromLogits(logits, width, height);

        var pixels = mask.Pixels.ToArray();

        Assert.That(pixels, Is.EqualTo(MaskUpsamplerTests.Reference(logits, width, height)));
        Assert.That(mask.HasPixels, Is.True);
    }

    [Test]
    public void Pixels_SecondUse_SameBufferNotRecomputed()
    {
        using var mask = MaskPrediction.FromLogits(MaskUpsamplerTests.Logits("disc"), 640, 480);

        mask.Pixels[0] = 7;

        Assert.That(mask.Pixels[0], Is.EqualTo(7), "callers may change the held mask (segment's union does)");
    }

    [TestCase(0, 3000)]
    [TestCase(1499, 1501)]
    [TestCase(2999, 3000)]
    public void WriteRows_Range_EqualsThoseRowsOfPixels(int y0, int y1)
    {
        var logits = MaskUpsamplerTests.Logits("disc");
        using var mask = MaskPrediction.FromLogits(logits, 4000, 3000);
        var rows = new byte[(y1 - y0) * 4000];

        mask.WriteRows(y0, y1, rows);

        Assert.That(rows, Is.EqualTo(MaskUpsamplerTests.Reference(logits, 4000, 3000).AsSpan(y0 * 4000, rows.Length).ToArray()));
        Assert.That(mask.HasPixels, Is.False);
    }

    [Test]
    public void WriteRows_OutsideTheMask_Throws()
    {
        using var mask = MaskPrediction.FromLogits(MaskUpsamplerTests.Logits("disc"), 10, 10);

        Assert.That(() => mask.WriteRows(5, 11, new byte[60]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => mask.WriteRows(0, 2, new byte[19]), Throws.ArgumentException);
    }

    [TestCase("disc")]
    [TestCase("special")]
    public void Area_LowResMask_CountsForegroundOfPixels(string field)
    {
        var logits = MaskUpsamplerTests.Logits(field);
        using var mask = MaskPrediction.FromLogits(logits, 1000, 700);

        var streamed = mask.Area;
        var counted = MaskUpsamplerTests.Reference(logits, 1000, 700).Count(b => b != 0);

        Assert.That(streamed, Is.EqualTo(counted));
        Assert.That(mask.Pixels.Length - System.MemoryExtensions.Count(mask.Pixels, (byte)0), Is.EqualTo(counted));
    }

    [Test]
    public void WriteRows_FullSizeExport_CopiesTheHeldPixels()
    {
        using var mask = new MaskPrediction(4, 3, 0.9f, 1, hasLowResLogits: false);
        var pixels = mask.RentPixels();
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i % 2 == 0 ? 255 : 0);
        var rows = new byte[8];

        mask.WriteRows(1, 3, rows);

        Assert.That(rows, Is.EqualTo(new byte[] { 255, 0, 255, 0, 255, 0, 255, 0 }));
        Assert.That(mask.LowResLogits.IsEmpty, Is.True);
        Assert.That(mask.Area, Is.EqualTo(6));
    }

    [Test]
    public void Pixels_FilledLogits_UpsampledInsteadOfTheReturnedLogits()
    {
        var logits = MaskUpsamplerTests.Logits("empty");
        using var mask = MaskPrediction.FromLogits(logits, 256, 256);

        mask.RentFilledLogits().Fill(1f);

        Assert.That(mask.Area, Is.EqualTo(256 * 256), "the filled logits make the mask");
        Assert.That(mask.LowResLogits.ToArray(), Is.EqualTo(logits), "the logits for refinement stay as given");
    }

    [Test]
    public void Outputs_OneAfterAnother_ShareOnePlanAndAgree()
    {
        var logits = MaskUpsamplerTests.Logits("waves");
        var expected = MaskUpsamplerTests.Reference(logits, 640, 480);
        using var mask = MaskPrediction.FromLogits(logits, 640, 480);

        var rle = BrushRle.Encode(mask);
        var rows = new byte[640 * 480];
        mask.WriteRows(0, 480, rows);
        using var png = MaskPng.Encode(mask);
        using var pngOfPixels = MaskPng.Encode(expected, 640, 480);

        Assert.That(rle, Is.EqualTo(BrushRle.Encode(expected)));
        Assert.That(rows, Is.EqualTo(expected));
        Assert.That(png.WrittenMemory.ToArray(), Is.EqualTo(pngOfPixels.WrittenMemory.ToArray()));

        mask.RentFilledLogits().Fill(1f);

        Assert.That(mask.Area, Is.EqualTo(640 * 480), "logits filled after an output still make the next one");
    }

    [Test]
    public void Dispose_Twice_ThenUse_ThrowsObjectDisposed()
    {
        var mask = MaskPrediction.FromLogits(MaskUpsamplerTests.Logits("disc"), 64, 64);
        _ = mask.Pixels.Length;

        mask.Dispose();
        mask.Dispose();

        Assert.That(() => mask.Pixels.Length, Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => mask.WriteRows(0, 1, new byte[64]), Throws.InstanceOf<ObjectDisposedException>());
    }
}
