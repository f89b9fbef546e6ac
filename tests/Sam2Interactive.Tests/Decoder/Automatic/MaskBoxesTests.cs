using NUnit.Framework;
using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary><c>batched_mask_to_box</c> and <c>box_xyxy_to_xywh</c> on hand-drawn masks.</summary>
[TestFixture]
[Category("Fast")]
public sealed class MaskBoxesTests
{
    private static byte[] Mask(int w, int h, params (int X, int Y)[] on)
    {
        var m = new byte[w * h];
        foreach (var (x, y) in on) m[y * w + x] = 255;
        return m;
    }

    [Test]
    public void FromMask_TwoPixels_InclusiveBox() =>
        Assert.That(MaskBoxes.FromMask(Mask(5, 4, (1, 1), (3, 2)), 5, 4), Is.EqualTo(new MaskBox(1, 1, 3, 2)));

    [Test]
    public void FromMask_Empty_AllZero() => Assert.That(MaskBoxes.FromMask(new byte[20], 5, 4), Is.EqualTo(new MaskBox(0, 0, 0, 0)));

    [Test]
    public void FromMask_OnePixel_ZeroWidthAndHeightInXywh()
    {
        var box = MaskBoxes.FromMask(Mask(5, 4, (4, 3)), 5, 4);
        Assert.That(box, Is.EqualTo(new MaskBox(4, 3, 4, 3)));
        Assert.That(MaskBoxes.ToXywh(box), Is.EqualTo((4, 3, 0, 0)));
    }

    [Test]
    public void FromMask_DiagonalStroke_SpansFirstToLastRowAndColumn() =>
        Assert.That(MaskBoxes.FromMask(Mask(6, 6, (4, 0), (3, 1), (2, 2), (1, 5)), 6, 6), Is.EqualTo(new MaskBox(1, 0, 4, 5)));

    [Test]
    public void ToXywh_CropBox_OriginAndSize() => Assert.That(MaskBoxes.ToXywh(new CropBox(580, 330, 1500, 1000)), Is.EqualTo((580, 330, 920, 670)));
}
