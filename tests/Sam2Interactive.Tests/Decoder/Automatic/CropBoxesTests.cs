using NUnit.Framework;
using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary><c>generate_crop_boxes</c> and <c>is_box_near_crop_edge</c> (sam2/utils/amg.py), values worked out by hand.</summary>
[TestFixture]
[Category("Fast")]
public sealed class CropBoxesTests
{
    private const double DefaultOverlap = 512.0 / 1500.0;

    [Test]
    public void Generate_NoLayers_OnlyTheWholeImage()
    {
        var (boxes, layers) = CropBoxes.Generate(640, 480, 0, DefaultOverlap);
        Assert.That(boxes, Is.EqualTo(new[] { new CropBox(0, 0, 640, 480) }));
        Assert.That(layers, Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public void Generate_OneLayerOn1500x1000_FourOverlappingCropsXMajor()
    {
        // short side 1000; overlap = int(0.34133 * 1000 * 2/2) = 341; crop_w = ceil((341 + 1500) / 2) = 921,
        // crop_h = ceil((341 + 1000) / 2) = 671; x0 ∈ {0, 580}, y0 ∈ {0, 330}; ends clipped to the image.
        var (boxes, layers) = CropBoxes.Generate(1500, 1000, 1, DefaultOverlap);
        Assert.That(boxes, Is.EqualTo(new[]
        {
            new CropBox(0, 0, 1500, 1000),
            new CropBox(0, 0, 921, 671), new CropBox(0, 330, 921, 1000),
            new CropBox(580, 0, 1500, 671), new CropBox(580, 330, 1500, 1000),
        }));
        Assert.That(layers, Is.EqualTo(new[] { 0, 1, 1, 1, 1 }));
    }

    [Test]
    public void Generate_TwoLayersOn1500x1000_SecondLayerIsFourByFour()
    {
        // Layer 2: overlap = int(341.33 * 2/4) = 170; crop_w = ceil((510 + 1500) / 4) = 503, crop_h = ceil((510 + 1000) / 4) = 378;
        // x0 = 333·i, y0 = 208·j.
        var (boxes, layers) = CropBoxes.Generate(1500, 1000, 2, DefaultOverlap);
        Assert.That(boxes, Has.Count.EqualTo(21));
        Assert.That(layers.Count(l => l == 2), Is.EqualTo(16));
        Assert.That(boxes[5], Is.EqualTo(new CropBox(0, 0, 503, 378)));
        Assert.That(boxes[6], Is.EqualTo(new CropBox(0, 208, 503, 586)));
        Assert.That(boxes[9], Is.EqualTo(new CropBox(333, 0, 836, 378)));
        Assert.That(boxes[20], Is.EqualTo(new CropBox(999, 624, 1500, 1000)));
    }

    [TestCase(0, 100, 50, 200, true)]     // left side on the crop's left edge (580), far from the image's
    [TestCase(400, 0, 919, 300, false)]   // top and right sides are on the image's edges too: kept
    [TestCase(100, 100, 300, 651, true)]  // bottom 20 px from the crop's bottom (671): within atol
    [TestCase(100, 100, 300, 650, false)] // 21 px: not
    public void IsNearCropEdge_BoxInCropFrame_AsSam2(int x0, int y0, int x1, int y1, bool expected) =>
        Assert.That(CropBoxes.IsNearCropEdge(new MaskBox(x0, y0, x1, y1), new CropBox(580, 0, 1500, 671), 1500, 1000), Is.EqualTo(expected));

    [Test]
    public void IsNearCropEdge_WholeImageCrop_NeverTrue() =>
        Assert.That(CropBoxes.IsNearCropEdge(new MaskBox(0, 0, 639, 479), new CropBox(0, 0, 640, 480), 640, 480), Is.False);
}
