using NUnit.Framework;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;
using SkiaSharp;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>
/// The whole pipeline on stand-in models of every export format: image bytes → decode → preprocess → encoder → decoder →
/// argmax-IoU mask → upsample, compared with the drawn shapes.
/// </summary>
[TestFixture]
public sealed class Sam2DecoderTests : EmbeddingLeakCheck
{
    private const double MinIoU = 0.9;
    private readonly Dictionary<StandInFormat, (Sam2Encoder Encoder, Sam2Decoder Decoder)> _models = [];

    [OneTimeSetUp]
    public void LoadModels()
    {
        foreach (var f in StandInModelSet.Formats) _models[f] = (StandInModelSet.CreateEncoder(f), StandInModelSet.CreateDecoder(f));
    }

    [OneTimeTearDown]
    public void DisposeModels()
    {
        foreach (var (e, d) in _models.Values) { e.Dispose(); d.Dispose(); }
    }

    private ImageEmbedding Encode(StandInFormat format, Scene scene) =>
        _models[format].Encoder.EncodeImage(scene.Encoded);

    private static PromptPoint Click(SKPoint p, bool positive = true) => new(p.X, p.Y, positive);

    private static PromptBox Box(SKRect r, float pad) => new(r.Left - pad, r.Top - pad, r.Right + pad, r.Bottom + pad);

    public static IEnumerable<TestCaseData> FormatsAndSizes()
    {
        foreach (var f in Enum.GetValues<StandInFormat>())
        {
            yield return new TestCaseData(f, 640, 480, SKEncodedImageFormat.Png);
            yield return new TestCaseData(f, 480, 640, SKEncodedImageFormat.Png);
            yield return new TestCaseData(f, 333, 777, SKEncodedImageFormat.Png);
            yield return new TestCaseData(f, 2000, 1200, SKEncodedImageFormat.Jpeg);
        }
    }

    [TestCaseSource(nameof(FormatsAndSizes))]
    public void Predict_PositiveClickOnDisc_MaskMatchesDiscAndNearColourSquare(StandInFormat format, int width, int height, SKEncodedImageFormat encoding)
    {
        var scene = Scenes.Create(width, height, encoding);
        using var embedding = Encode(format, scene);
        Assert.That((embedding.OriginalWidth, embedding.OriginalHeight), Is.EqualTo((width, height)));

        using var mask = _models[format].Decoder.Predict(embedding, new Prompt([Click(Scenes.Centre(Scenes.RedDiscBounds(width, height)))]), width, height);

        // The stand-in's best mask (index 1, IoU 0.93) has a colour tolerance that takes the pink square too.
        Assert.That(mask.MaskIndex, Is.EqualTo(1));
        Assert.That(mask.Score, Is.EqualTo(0.93f).Within(1e-6));
        Assert.That(Scenes.IoU(mask.Pixels, scene.Union("red", "pink")), Is.GreaterThanOrEqualTo(MinIoU));
    }

    [TestCaseSource(nameof(AllFormats))]
    public void Predict_NegativeClickOnNearColour_ExcludesIt(StandInFormat format)
    {
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(format, scene);
        var prompt = new Prompt([
            Click(Scenes.Centre(Scenes.RedDiscBounds(640, 480))),
            Click(Scenes.Centre(Scenes.PinkSquare(640, 480)), positive: false),
        ]);

        using var mask = _models[format].Decoder.Predict(embedding, prompt, 640, 480);

        Assert.That(Scenes.IoU(mask.Pixels, scene.Objects["red"]), Is.GreaterThanOrEqualTo(MinIoU));
    }

    [TestCaseSource(nameof(AllFormats))]
    public void Predict_BoxOnly_SegmentsTheBoxedObject(StandInFormat format)
    {
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(format, scene);

        using var mask = _models[format].Decoder.Predict(embedding, new Prompt([], Box(Scenes.BlueRect(640, 480), 6)), 640, 480);

        Assert.That(Scenes.IoU(mask.Pixels, scene.Objects["blue"]), Is.GreaterThanOrEqualTo(MinIoU));
    }

    [TestCaseSource(nameof(AllFormats))]
    public void Predict_BoxAroundDiscWithClick_BoxExcludesNearColourSquare(StandInFormat format)
    {
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(format, scene);
        var disc = Scenes.RedDiscBounds(640, 480);

        using var mask = _models[format].Decoder.Predict(embedding, new Prompt([Click(Scenes.Centre(disc))], Box(disc, 4)), 640, 480);

        Assert.That(Scenes.IoU(mask.Pixels, scene.Objects["red"]), Is.GreaterThanOrEqualTo(MinIoU));
    }

    [TestCaseSource(nameof(AllFormats))]
    public void PredictMany_TwoBoxes_OneMaskPerBox(StandInFormat format)
    {
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(format, scene);
        var decoder = _models[format].Decoder;
        var runsBefore = decoder.Runs;

        var masks = decoder.PredictMany(embedding, [new Prompt([], Box(Scenes.BlueRect(640, 480), 6)), new Prompt([], Box(Scenes.PinkSquare(640, 480), 6))], 640, 480);
        try
        {
            Assert.That(masks, Has.Length.EqualTo(2));
            Assert.That(Scenes.IoU(masks[0].Pixels, scene.Objects["blue"]), Is.GreaterThanOrEqualTo(MinIoU));
            Assert.That(Scenes.IoU(masks[1].Pixels, scene.Objects["pink"]), Is.GreaterThanOrEqualTo(MinIoU));
            // onnx-community takes both boxes in one run; exports traced at batch 1 run once per box.
            Assert.That(decoder.Runs - runsBefore, Is.EqualTo(format == StandInFormat.OnnxCommunity ? 1 : 2));
        }
        finally
        {
            foreach (var m in masks) m.Dispose();
        }
    }

    [TestCaseSource(nameof(AllFormats))]
    public void PredictCandidates_ClickAndTwoBoxes_EveryCandidateBestFirstAndFirstIsPredictManys(StandInFormat format)
    {
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(format, scene);
        var decoder = _models[format].Decoder;
        Prompt[] prompts = [new Prompt([], Box(Scenes.BlueRect(640, 480), 6)), new Prompt([], Box(Scenes.PinkSquare(640, 480), 6))];

        var candidates = decoder.PredictCandidates(embedding, prompts, 640, 480);
        var best = decoder.PredictMany(embedding, prompts, 640, 480);
        try
        {
            Assert.That(candidates.Select(c => c.Length), Is.EqualTo(new[] { 3, 3 }), "the stand-ins give three masks per prompt");
            for (var i = 0; i < prompts.Length; i++)
            {
                Assert.That(candidates[i].Select(m => m.Score), Is.Ordered.Descending);
                Assert.That(candidates[i].Select(m => m.MaskIndex).Order(), Is.EqualTo(new[] { 0, 1, 2 }));
                Assert.That((candidates[i][0].MaskIndex, candidates[i][0].Score), Is.EqualTo((best[i].MaskIndex, best[i].Score)));
                Assert.That(candidates[i][0].Pixels.SequenceEqual(best[i].Pixels), Is.True);
            }
        }
        finally
        {
            foreach (var m in candidates.SelectMany(c => c).Concat(best)) m.Dispose();
        }
    }

    public static IEnumerable<TestCaseData> SpecialImages()
    {
        yield return new TestCaseData("exif-3", 640, 480).SetArgDisplayNames("jpeg-exif-orientation-3");
        yield return new TestCaseData("exif-6", 640, 480).SetArgDisplayNames("jpeg-exif-orientation-6");
        yield return new TestCaseData("exif-8", 480, 640).SetArgDisplayNames("jpeg-exif-orientation-8");
        yield return new TestCaseData("alpha", 640, 480).SetArgDisplayNames("png-with-alpha");
        yield return new TestCaseData("gray", 640, 480).SetArgDisplayNames("grayscale-png");
        yield return new TestCaseData("webp", 640, 480).SetArgDisplayNames("webp");
    }

    [TestCaseSource(nameof(SpecialImages))]
    public void Predict_SpecialImage_MaskInDisplayOrientation(string kind, int width, int height)
    {
        var scene = kind switch
        {
            "exif-3" => Scenes.Create(width, height, exifOrientation: 3),
            "exif-6" => Scenes.Create(width, height, exifOrientation: 6),
            "exif-8" => Scenes.Create(width, height, exifOrientation: 8),
            "alpha" => Scenes.Create(width, height, transparentBackground: true),
            "gray" => Scenes.Create(width, height, grayscale: true),
            _ => Scenes.Create(width, height, SKEncodedImageFormat.Webp),
        };
        using var embedding = Encode(StandInFormat.SamExporter, scene);
        Assert.That((embedding.OriginalWidth, embedding.OriginalHeight), Is.EqualTo((width, height)), "size after EXIF orientation");

        using var mask = _models[StandInFormat.SamExporter].Decoder.Predict(embedding, new Prompt([], Box(Scenes.BlueRect(width, height), 6)), width, height);

        Assert.That(Scenes.IoU(mask.Pixels, scene.Objects["blue"]), Is.GreaterThanOrEqualTo(MinIoU));
    }

    [Test]
    public void Predict_PreviousLogits_AreFedAsMaskInput()
    {
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(StandInFormat.SamExporter, scene);
        var decoder = _models[StandInFormat.SamExporter].Decoder;
        var prompt = new Prompt([Click(Scenes.Centre(Scenes.BlueRect(640, 480)))]);
        using var first = decoder.Predict(embedding, prompt, 640, 480);
        var logits = first.LowResLogits.ToArray();
        Assert.That(logits, Has.Length.EqualTo(MaskPostprocessor.LowResLength));
        Assert.That(logits.Max(), Is.LessThanOrEqualTo(32f));
        Assert.That(logits.Min(), Is.GreaterThanOrEqualTo(-32f));

        // A strongly positive previous mask over the whole image: the stand-in adds 0.5 × mask_input, so a previous
        // logit of +32 everywhere turns background cells (stand-in logit ≥ −8·(2.5−1)) positive too.
        var everything = Enumerable.Repeat(32f, MaskPostprocessor.LowResLength).ToArray();
        using var refined = decoder.Predict(embedding, prompt, 640, 480, everything);

        Assert.That(refined.Area, Is.GreaterThan(first.Area));
        Assert.That(decoder.SupportsMaskInput, Is.True);
    }

    [Test]
    public void Predict_OtherFrameSize_MaskHasRequestedSizeAndSameShape()
    {
        // Label Studio may report original_width/height that differ from the fetched file (e.g. a resized copy).
        var scene = Scenes.Create(640, 480);
        using var embedding = Encode(StandInFormat.SamExporter, scene);
        var disc = Scenes.RedDiscBounds(1280, 960);

        using var mask = _models[StandInFormat.SamExporter].Decoder.Predict(embedding, new Prompt([Click(Scenes.Centre(disc))], new PromptBox(disc.Left - 8, disc.Top - 8, disc.Right + 8, disc.Bottom + 8)), 1280, 960);

        Assert.That((mask.Width, mask.Height), Is.EqualTo((1280, 960)));
        var big = Scenes.Create(1280, 960);
        Assert.That(Scenes.IoU(mask.Pixels, big.Objects["red"]), Is.GreaterThanOrEqualTo(MinIoU));
    }

    [Test]
    public void Predict_HoleFillingOn_FillsSmallHoleInsideObject()
    {
        // A blue rectangle with a small grey hole: with MAX_HOLE_AREA the hole is part of the mask.
        using var bitmap = new SKBitmap(new SKImageInfo(512, 512, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(Scenes.Background);
            using var blue = new SKPaint { Color = Scenes.Blue };
            canvas.DrawRect(new SKRect(100, 100, 400, 400), blue);
            using var grey = new SKPaint { Color = Scenes.Background };
            canvas.DrawRect(new SKRect(240, 240, 256, 256), grey);
        }
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var bytes = png.ToArray();
        using var plain = StandInModelSet.CreateDecoder(StandInFormat.SamExporter);
        using var filling = StandInModelSet.CreateDecoder(StandInFormat.SamExporter, new DecoderOptions { MaxHoleArea = 100 });
        using var embedding = _models[StandInFormat.SamExporter].Encoder.EncodeImage(bytes);
        var prompt = new Prompt([new PromptPoint(150, 150, true)]);

        using var without = plain.Predict(embedding, prompt, 512, 512);
        using var with = filling.Predict(embedding, prompt, 512, 512);

        Assert.That(without.Pixels[248 * 512 + 248], Is.Zero, "the hole is background without filling");
        Assert.That(with.Pixels[248 * 512 + 248], Is.EqualTo(255), "filled with MAX_HOLE_AREA");
        Assert.That(with.LowResLogits.ToArray(), Is.EqualTo(without.LowResLogits.ToArray()), "the logits returned for refinement stay unfilled");
    }

    public static IEnumerable<StandInFormat> AllFormats() => Enum.GetValues<StandInFormat>();
}
