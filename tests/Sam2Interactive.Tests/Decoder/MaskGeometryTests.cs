using NUnit.Framework;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Tests.Decoder;

[TestFixture]
[Category("Fast")]
public sealed class MaskGeometryTests
{
    [Test]
    public void Measure_EmptyMask_ZeroAreaAndZeroBox()
    {
        Assert.That(MaskGeometry.Measure(new byte[12], 4, 3), Is.EqualTo((0L, new PixelBox(0, 0, 0, 0))));
    }

    [Test]
    public void Measure_TwoBlobs_AreaAndBoxAroundBoth()
    {
        var mask = new byte[10 * 8];
        mask[2 * 10 + 3] = 255;                       // (3, 2)
        for (var x = 5; x <= 8; x++) mask[6 * 10 + x] = 1; // (5..8, 6)

        Assert.That(MaskGeometry.Measure(mask, 10, 8), Is.EqualTo((5L, new PixelBox(3, 2, 6, 5))));
    }

    [Test]
    public void Measure_FullMask_WholeImage()
    {
        Assert.That(MaskGeometry.Measure(Enumerable.Repeat((byte)255, 15).ToArray(), 5, 3), Is.EqualTo((15L, new PixelBox(0, 0, 5, 3))));
    }
}
