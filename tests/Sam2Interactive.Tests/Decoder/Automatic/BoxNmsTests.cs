using NUnit.Framework;
using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary>torchvision's <c>nms</c> (CPU kernel) on hand-computed boxes.</summary>
[TestFixture]
[Category("Fast")]
public sealed class BoxNmsTests
{
    [Test]
    public void Keep_OverlapBelowThreshold_KeepsBothInScoreOrder()
    {
        // IoU((0,0,10,10), (1,1,11,11)) = 81 / (100 + 100 − 81) = 0.68.
        MaskBox[] boxes = [new(0, 0, 10, 10), new(1, 1, 11, 11), new(20, 20, 30, 30)];
        Assert.That(BoxNms.Keep(boxes, [0.9f, 0.8f, 0.7f], 0.7), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(BoxNms.Keep(boxes, [0.9f, 0.8f, 0.7f], 0.6), Is.EqualTo(new[] { 0, 2 }));
    }

    [Test]
    public void Keep_LowerScoreFirstInInput_HigherScoreWins()
    {
        MaskBox[] boxes = [new(0, 0, 10, 10), new(0, 0, 10, 10), new(50, 50, 60, 60)];
        Assert.That(BoxNms.Keep(boxes, [0.5f, 0.9f, 0.7f], 0.7), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void Keep_EqualScores_EarlierIndexWins()
    {
        MaskBox[] boxes = [new(5, 5, 9, 9), new(0, 0, 10, 10), new(0, 0, 10, 10)];
        Assert.That(BoxNms.Keep(boxes, [0.93f, 0.93f, 0.93f], 0.7), Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void Keep_IoUEqualToThreshold_NotSuppressed()
    {
        // (0,0,10,10) and (0,0,10,5): 50 / (100 + 50 − 50) = 0.5 exactly; suppression needs IoU > threshold.
        MaskBox[] boxes = [new(0, 0, 10, 10), new(0, 0, 10, 5)];
        Assert.That(BoxNms.Keep(boxes, [0.9f, 0.8f], 0.5), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(BoxNms.Keep(boxes, [0.9f, 0.8f], 0.49), Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public void Keep_OnePixelBoxes_ZeroAreaIoUIsNaNAndSuppressesNothing()
    {
        // Inclusive boxes make a one-pixel mask 0 wide: (x2 − x1)(y2 − y1) = 0, so the IoU of two such boxes is 0/0.
        MaskBox[] boxes = [new(5, 5, 5, 5), new(5, 5, 5, 5)];
        Assert.That(BoxNms.Keep(boxes, [0.9f, 0.8f], 0.7), Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void Keep_Empty_ReturnsEmpty() => Assert.That(BoxNms.Keep([], [], 0.7), Is.Empty);
}
