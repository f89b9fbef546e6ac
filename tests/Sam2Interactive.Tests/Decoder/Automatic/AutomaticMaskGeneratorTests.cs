using NUnit.Framework;
using Sam2Interactive.Decoder;
using Sam2Interactive.Decoder.Automatic;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary>
/// SAM2AutomaticMaskGenerator on the stand-in models: each drawn object found once, and the parameters acting as in SAM2.
/// The stand-in decoder's three masks per point have the constant IoU predictions 0.80, 0.93 and 0.87 (docs/stand-ins.md).
/// </summary>
[TestFixture]
public sealed class AutomaticMaskGeneratorTests : EmbeddingLeakCheck
{
    private const int W = 640, H = 480;
    private readonly Dictionary<StandInFormat, (Sam2Encoder Encoder, Sam2Decoder Decoder)> _models = [];
    private Scene _scene = null!;

    [OneTimeSetUp]
    public void LoadModels()
    {
        foreach (var f in StandInModelSet.Formats) _models[f] = (StandInModelSet.CreateEncoder(f), StandInModelSet.CreateDecoder(f));
        _scene = AutomaticScenes.Create(W, H);
    }

    [OneTimeTearDown]
    public void DisposeModels()
    {
        foreach (var (e, d) in _models.Values) { e.Dispose(); d.Dispose(); }
    }

    public static StandInFormat[] AllFormats => StandInModelSet.Formats;

    private async Task<AutomaticMaskResult> GenerateAsync(StandInFormat format, AutomaticMaskOptions options, Scene? scene = null)
    {
        var (encoder, decoder) = _models[format];
        scene ??= _scene;
        using var embedding = encoder.EncodeImage(scene.Encoded);
        using var full = FullResolutionImage.Decode(scene.Encoded, long.MaxValue);
        return await new AutomaticMaskGenerator(decoder).GenerateAsync(embedding, options,
            (crop, _) => Task.FromResult(encoder.EncodeCrop(full, crop.X0, crop.Y0, crop.X1, crop.Y1)));
    }

    private static byte[] Pixels(AutomaticMask mask)
    {
        var pixels = new byte[mask.ImageWidth * mask.ImageHeight];
        mask.WritePixels(pixels);
        return pixels;
    }

    /// <summary>For each object, how many masks match it with IoU ≥ 0.9, and the best IoU.</summary>
    private static Dictionary<string, (int Matches, double Best)> Match(AutomaticMaskResult result, Scene scene)
    {
        var ious = result.Masks.Select(Pixels).Select(p => scene.Objects.ToDictionary(o => o.Key, o => Scenes.IoU(p, o.Value))).ToList();
        return scene.Objects.Keys.ToDictionary(k => k, k => (ious.Count(i => i[k] >= 0.9), ious.Count == 0 ? 0 : ious.Max(i => i[k])));
    }

    [Test]
    public void Scene_ColoursAreFartherApartThanTheLoosestTolerance()
    {
        var colours = new[] { AutomaticScenes.Background, AutomaticScenes.Red, AutomaticScenes.Green, AutomaticScenes.Blue };
        foreach (var a in colours)
        {
            foreach (var b in colours.Where(c => c != a)) Assert.That(AutomaticScenes.StandInDistance(a, b), Is.GreaterThan(2.2), $"{a} vs {b}");
        }
    }

    /// <summary>SAM2's default filters on every format; a 16-point grid keeps it quick (the 32-point default runs in
    /// SegmentCommandTests through <c>segment --auto</c>).</summary>
    [TestCaseSource(nameof(AllFormats))]
    public async Task GenerateAsync_DefaultFilters_FindsEachDrawnObjectOnce(StandInFormat format)
    {
        using var result = await GenerateAsync(format, new AutomaticMaskOptions { PointsPerSide = 16 });

        foreach (var (name, (matches, best)) in Match(result, _scene))
        {
            Assert.That(matches, Is.EqualTo(1), $"{name}: best IoU {best:0.###}");
        }
        Assert.That(result.Stats.Prompts, Is.EqualTo(16 * 16));
        Assert.That(result.Masks.Select(m => m.PredictedIou), Is.Ordered.Descending, "output in NMS order (predicted IoU)");
        Assert.That(result.Masks.Select(m => m.PredictedIou), Is.All.EqualTo(0.93f), "the 0.87 duplicates were removed by NMS");
    }

    [Test]
    public async Task GenerateAsync_Records_FieldsAsSam2DefinesThem()
    {
        using var result = await GenerateAsync(StandInFormat.SamExporter, new AutomaticMaskOptions { PointsPerSide = 8 });

        foreach (var m in result.Masks)
        {
            var pixels = Pixels(m);
            Assert.That(m.Area, Is.EqualTo(pixels.LongCount(p => p != 0)));
            Assert.That(m.Box, Is.EqualTo(MaskBoxes.FromMask(pixels, W, H)));
            Assert.That(m.Bbox, Is.EqualTo((m.Box.X0, m.Box.Y0, m.Box.X1 - m.Box.X0, m.Box.Y1 - m.Box.Y0)));
            Assert.That(m.CropBox, Is.EqualTo(new CropBox(0, 0, W, H)));
            Assert.That(m.StabilityScore, Is.GreaterThanOrEqualTo(0.95f).And.LessThanOrEqualTo(1f));
            // The grid point that produced the mask is on it: (k + 0.5) / 8 of the image side, in float32.
            Assert.That(pixels[(int)m.PointY * W + (int)m.PointX], Is.Not.Zero);
            Assert.That(Enumerable.Range(0, 8).Select(k => (float)((k + 0.5) / 8 * W)), Does.Contain(m.PointX));
        }
    }

    [TestCase(StandInFormat.SamExporter, 8, 64, 64)]
    [TestCase(StandInFormat.SamExporter, 5, 64, 25)]
    [TestCase(StandInFormat.OnnxCommunity, 8, 64, 1)]
    [TestCase(StandInFormat.OnnxCommunity, 8, 10, 7)]
    [TestCase(StandInFormat.OnnxCommunity, 16, 64, 4)]
    public async Task GenerateAsync_PointsPerSide_SetsThePromptsRun(StandInFormat format, int pointsPerSide, int pointsPerBatch, int expectedRuns)
    {
        var before = _models[format].Decoder.Runs;
        using var result = await GenerateAsync(format, new AutomaticMaskOptions { PointsPerSide = pointsPerSide, PointsPerBatch = pointsPerBatch });

        Assert.That(result.Stats.Prompts, Is.EqualTo(pointsPerSide * pointsPerSide));
        Assert.That(result.Stats.DecoderRuns, Is.EqualTo(expectedRuns));
        Assert.That(_models[format].Decoder.Runs - before, Is.EqualTo(expectedRuns));
        Assert.That(result.Stats.Candidates, Is.EqualTo(3 * pointsPerSide * pointsPerSide), "three masks per point");
    }

    [TestCase(0.0, 3)]   // keeps all
    [TestCase(0.8, 2)]   // 0.80 is not above 0.8 (float32 0.8 on both sides): 0.93 and 0.87 stay
    [TestCase(0.9, 1)]   // only 0.93
    [TestCase(0.95, 0)]  // none
    public async Task GenerateAsync_PredIouThresh_DropsMasksNotAboveIt(double threshold, int perPoint)
    {
        using var result = await GenerateAsync(StandInFormat.OnnxCommunity, new AutomaticMaskOptions { PointsPerSide = 8, PredIouThresh = threshold });

        Assert.That(result.Stats.AfterPredIou, Is.EqualTo(perPoint * 64));
        Assert.That(result.Masks.Select(m => (double)m.PredictedIou), Is.All.GreaterThan(threshold));
        if (perPoint == 0) Assert.That(result.Masks, Is.Empty);
    }

    [Test]
    public async Task GenerateAsync_StabilityScoreThresh_HigherDropsMoreAndZeroKeepsAll()
    {
        using var none = await GenerateAsync(StandInFormat.OnnxCommunity, new AutomaticMaskOptions { PointsPerSide = 8, StabilityScoreThresh = 0 });
        using var usual = await GenerateAsync(StandInFormat.OnnxCommunity, new AutomaticMaskOptions { PointsPerSide = 8 });
        using var strict = await GenerateAsync(StandInFormat.OnnxCommunity, new AutomaticMaskOptions { PointsPerSide = 8, StabilityScoreThresh = 1.0 });

        Assert.That(none.Stats.AfterStability, Is.EqualTo(none.Stats.AfterPredIou));
        Assert.That(usual.Stats.AfterStability, Is.LessThanOrEqualTo(none.Stats.AfterStability));
        Assert.That(strict.Stats.AfterStability, Is.LessThan(usual.Stats.AfterStability), "a soft edge makes stability < 1");
        Assert.That(strict.Masks.Select(m => m.StabilityScore), Is.All.EqualTo(1f));
    }

    [Test]
    public async Task GenerateAsync_MultimaskOff_OneMaskPerPointTheHighestIoU()
    {
        using var result = await GenerateAsync(StandInFormat.SamExporter, new AutomaticMaskOptions { PointsPerSide = 8, MultimaskOutput = false });

        Assert.That(result.Stats.Candidates, Is.EqualTo(64));
        Assert.That(result.Masks.Select(m => m.PredictedIou), Is.All.EqualTo(0.93f));
        Assert.That(Match(result, _scene).Values.Select(v => v.Matches), Is.All.EqualTo(1));
    }

    [Test]
    public async Task GenerateAsync_UseM2m_RefinesEveryCandidateWithItsLogits()
    {
        var before = _models[StandInFormat.SamExporter].Decoder.Runs;
        using var result = await GenerateAsync(StandInFormat.SamExporter, new AutomaticMaskOptions { PointsPerSide = 6, UseM2m = true });

        // One run per point, then one refinement per candidate (all three masks of each point, before any filter).
        Assert.That(result.Stats.DecoderRuns, Is.EqualTo(36 + 3 * 36));
        Assert.That(_models[StandInFormat.SamExporter].Decoder.Runs - before, Is.EqualTo(36 + 3 * 36));
        Assert.That(Match(result, _scene).Values.Select(v => v.Matches), Is.All.EqualTo(1));
    }

    [Test]
    public async Task GenerateAsync_UseM2mWithoutMaskInput_RefusedNamingTheParameter()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => GenerateAsync(StandInFormat.OnnxCommunity, new AutomaticMaskOptions { PointsPerSide = 4, UseM2m = true }));
        Assert.That(e!.Message, Does.Contain("use_m2m"));
    }

    [Test]
    public async Task GenerateAsync_OneCropLayer_EncodesFourCropsAndStillFindsEachObjectOnce()
    {
        var encoder = _models[StandInFormat.SamExporter].Encoder;
        var before = encoder.Runs;
        using var result = await GenerateAsync(StandInFormat.SamExporter, new AutomaticMaskOptions { PointsPerSide = 12, CropNLayers = 1 });

        Assert.That(result.Stats.CropEncodes, Is.EqualTo(4));
        Assert.That(encoder.Runs - before, Is.EqualTo(1 + 4), "the whole image once (by the test), then each crop");
        Assert.That(result.Stats.Prompts, Is.EqualTo(5 * 144));
        Assert.That(Match(result, _scene).Values.Select(v => v.Matches), Is.All.EqualTo(1));
        // Crop NMS prefers smaller crops: the output is ordered by crop area, ascending.
        Assert.That(result.Masks.Select(m => (long)m.CropBox.Width * m.CropBox.Height), Is.Ordered);
    }

    [Test]
    public async Task GenerateAsync_MinMaskRegionArea_FillsHolesBeforeUpsampling()
    {
        // A 6×6 px grey hole in the green square: ~1.5 low-res cells, a hole of the square's mask unless filled.
        var scene = AutomaticScenes.Create(W, H);
        var square = AutomaticScenes.Square(W, H);
        using var bitmap = SkiaSharp.SKBitmap.Decode(scene.Encoded);
        using (var canvas = new SkiaSharp.SKCanvas(bitmap))
        using (var paint = new SkiaSharp.SKPaint { Color = AutomaticScenes.Background, IsAntialias = false })
        {
            canvas.DrawRect(SkiaSharp.SKRect.Create(square.MidX - 3, square.MidY - 3, 6, 6), paint);
        }
        using var png = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        var holed = scene with { Encoded = png.ToArray() };
        var options = new AutomaticMaskOptions { PointsPerSide = 8 };

        using var plain = await GenerateAsync(StandInFormat.SamExporter, options, holed);
        using var filled = await GenerateAsync(StandInFormat.SamExporter, options with { MinMaskRegionArea = 16 }, holed);

        static AutomaticMask Green(AutomaticMaskResult r, Scene s) => r.Masks.MaxBy(m => Scenes.IoU(Pixels(m), s.Objects["green"]))!;
        var hole = (int)square.MidY * W + (int)square.MidX;
        Assert.That(Pixels(Green(plain, holed))[hole], Is.Zero, "without filling the hole is background");
        Assert.That(Pixels(Green(filled, holed))[hole], Is.Not.Zero, "min_mask_region_area fills it");
        Assert.That(Green(filled, holed).Area, Is.GreaterThan(Green(plain, holed).Area));
    }

    [Test]
    public void Validate_BothOrNeitherGridSource_Refused()
    {
        Assert.Throws<ArgumentException>(() => new AutomaticMaskOptions { PointsPerSide = null }.Validate());
        Assert.Throws<ArgumentException>(() => new AutomaticMaskOptions { PointGrids = [PointGrids.Build(2)] }.Validate());
        Assert.DoesNotThrow(() => new AutomaticMaskOptions { PointsPerSide = null, PointGrids = [PointGrids.Build(2)] }.Validate());
    }

    [Test]
    public async Task GenerateAsync_ExplicitPointGrid_RunsExactlyThosePoints()
    {
        using var result = await GenerateAsync(StandInFormat.SamExporter,
            new AutomaticMaskOptions { PointsPerSide = null, PointGrids = [[AutomaticScenes.Disc(W, H).MidX / W, AutomaticScenes.Disc(W, H).MidY / H]] });

        Assert.That(result.Stats.Prompts, Is.EqualTo(1));
        Assert.That(result.Masks, Has.Count.EqualTo(1));
        Assert.That(Scenes.IoU(Pixels(result.Masks[0]), _scene.Objects["red"]), Is.GreaterThanOrEqualTo(0.9));
    }
}
