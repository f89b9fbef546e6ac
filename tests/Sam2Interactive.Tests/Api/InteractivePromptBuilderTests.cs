using System.Globalization;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Decoder;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
[Category("Fast")]
public sealed class InteractivePromptBuilderTests
{
    private static readonly LabelConfig s_config = LabelConfigParser.ParseUncached(LabelStudioSamples.BananaLabelConfig).Config!;

    private static IReadOnlyList<InteractivePrompt> Build(params string[] items)
    {
        var body = LabelStudioBodies.InteractivePredict(string.Join(",", items));
        var request = JsonSerializer.Deserialize(body, LabelStudioJsonContext.Default.PredictRequest)!;
        return InteractivePromptBuilder.Build(request.Context, s_config);
    }

    private static string Point(double x, double y, string? isPositive = null, string label = "Banana", int w = 1080, int h = 1080, string extraValue = "")
    {
        var positive = isPositive is null ? "" : ",\"is_positive\":" + isPositive;
        return string.Create(CultureInfo.InvariantCulture,
            $$$"""{"id":"p","from_name":"tag2","to_name":"image","type":"keypointlabels","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":0,"value":{"x":{{{x}}},"y":{{{y}}},"width":0.32,"keypointlabels":["{{{label}}}"]{{{extraValue}}}}{{{positive}}}}""");
    }

    private static string Rect(string x, string y, string width, string height, double rotation = 0, string label = "Banana", int w = 1000, int h = 500) =>
        string.Create(CultureInfo.InvariantCulture, $$$"""{"id":"r","from_name":"tag3","to_name":"image","type":"rectanglelabels","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":90,"value":{"x":{{{x}}},"y":{{{y}}},"width":{{{width}}},"height":{{{height}}},"rotation":{{{rotation}}},"rectanglelabels":["{{{label}}}"]}}""");

    [Test]
    public void Build_ProtocolDocKeyPoint_ConvertsPercentToPixels()
    {
        var prompt = Build(LabelStudioSamples.KeyPointItem).Single();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(prompt.Prompt.Points.Single().X, Is.EqualTo(49.44f / 100 * 1080).Within(1e-3));
            Assert.That(prompt.Prompt.Points[0].Y, Is.EqualTo(59.97f / 100 * 1080).Within(1e-3));
            Assert.That(prompt.Prompt.Points[0].Positive, Is.True);
            Assert.That(prompt.Prompt.Box, Is.Null);
            Assert.That(prompt.PromptLabel, Is.EqualTo("Banana"));
            Assert.That(prompt.Target.BrushLabels!.Name, Is.EqualTo("tag"));
            Assert.That(prompt.Target.ImageName, Is.EqualTo("image"));
            Assert.That((prompt.OriginalWidth, prompt.OriginalHeight, prompt.ImageRotation), Is.EqualTo((1080, 1080, 0)));
        }
    }

    [Test]
    public void Build_SeveralKeyPointsWithAndWithoutIsPositive_FormOneObject()
    {
        var prompts = Build(Point(10, 20, "true"), Point(30, 40), Point(50, 60, "false"), Point(70, 80, "0"));

        var points = prompts.Single().Prompt.Points;
        Assert.That(points, Is.EqualTo(new[]
        {
            new PromptPoint(108f, 216f, true),
            new PromptPoint(324f, 432f, true),
            new PromptPoint(540f, 648f, false),
            new PromptPoint(756f, 864f, false),
        }).Using<PromptPoint>((a, b) => Math.Abs(a.X - b.X) < 1e-3 && Math.Abs(a.Y - b.Y) < 1e-3 && a.Positive == b.Positive));
    }

    [Test]
    public void Build_ValuePositive_WinsOverIsPositive()
    {
        var prompt = Build(Point(10, 10, "true", extraValue: ",\"positive\":false"), Point(20, 20, "false", extraValue: ",\"positive\":true")).Single();

        Assert.That(prompt.Prompt.Points.Select(p => p.Positive), Is.EqualTo(new[] { false, true }));
    }

    [Test]
    public void Build_NonSquareImage_UsesWidthForXAndHeightForY()
    {
        var point = Build(Point(50, 50, w: 640, h: 480)).Single().Prompt.Points.Single();

        Assert.That((point.X, point.Y), Is.EqualTo((320f, 240f)));
    }

    [Test]
    public void Build_SeveralRectangles_GiveOneBoxObjectEach()
    {
        var prompts = Build(LabelStudioSamples.RectangleItem, Rect("0", "0", "50", "50"), Rect("50", "50", "50", "50"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(prompts, Has.Count.EqualTo(3));
            Assert.That(prompts.All(p => p.Prompt.Points.Count == 0), Is.True);
            var first = prompts[0].Prompt.Box!.Value;
            Assert.That(first.X0, Is.EqualTo(10.5f / 100 * 1080).Within(1e-2));
            Assert.That(first.Y0, Is.EqualTo(216f).Within(1e-2));
            Assert.That(first.X1, Is.EqualTo((10.5f + 30.1f) / 100 * 1080).Within(1e-2));
            Assert.That(first.Y1, Is.EqualTo((20f + 25.7f) / 100 * 1080).Within(1e-2));
            Assert.That(prompts[1].Prompt.Box, Is.EqualTo(new PromptBox(0, 0, 500, 250)));
            Assert.That(prompts[2].Prompt.Box, Is.EqualTo(new PromptBox(500, 250, 1000, 500)));
            Assert.That(prompts[2].ImageRotation, Is.EqualTo(90));
        }
    }

    [Test]
    public void Build_RectangleRotated90_UsesBoundingBoxOfRotationAroundTopLeft()
    {
        // 1000×500 image; rect at (400,100) px, 200×100 px, rotated 90° clockwise around (400,100):
        // (w,0) → (400,300), (0,h) → (300,100), so the box is x 300..400, y 100..300.
        var box = Build(Rect("40", "20", "20", "20", rotation: 90)).Single().Prompt.Box!.Value;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(box.X0, Is.EqualTo(300f).Within(1e-3));
            Assert.That(box.Y0, Is.EqualTo(100f).Within(1e-3));
            Assert.That(box.X1, Is.EqualTo(400f).Within(1e-3));
            Assert.That(box.Y1, Is.EqualTo(300f).Within(1e-3));
        }
    }

    [Test]
    public void Build_RectangleRotated45_BoundingBoxCoversAllCorners()
    {
        // 1000×1000 image, 100×100 px square at (500,500) rotated 45°: corners (500,500), (570.7,570.7), (500,641.4), (429.3,570.7).
        var box = Build(Rect("50", "50", "10", "10", rotation: 45, w: 1000, h: 1000)).Single().Prompt.Box!.Value;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(box.X0, Is.EqualTo(500 - 70.7107f).Within(1e-2));
            Assert.That(box.X1, Is.EqualTo(500 + 70.7107f).Within(1e-2));
            Assert.That(box.Y0, Is.EqualTo(500f).Within(1e-2));
            Assert.That(box.Y1, Is.EqualTo(500 + 141.4214f).Within(1e-2));
        }
    }

    [Test]
    public void Build_RotatedRectanglePartlyOutside_IsClippedToImage()
    {
        // Rotated 180° around its top-left corner, the rect extends left/up of (x,y).
        var box = Build(Rect("10", "10", "20", "20", rotation: 180)).Single().Prompt.Box!.Value;

        Assert.That(box, Is.EqualTo(new PromptBox(0, 0, 100, 50)));
    }

    [Test]
    public void Build_UnknownLabel_KeepsPromptLabelAndBrushMapsToFirstLabel()
    {
        var prompt = Build(Point(10, 10, label: "Pear")).Single();

        Assert.That(prompt.PromptLabel, Is.EqualTo("Pear"));
        Assert.That(ImageTarget.MapLabel(prompt.Target.Brush!, prompt.PromptLabel), Is.EqualTo("Apple"));
    }

    [TestCase("prewarm")]
    [TestCase("capabilities")]
    [TestCase("track")]
    public void Build_NonPredictEvent_GivesNoPrompts(string ev)
    {
        var context = new InteractiveContext
        {
            Event = ev,
            Result = [JsonSerializer.Deserialize(LabelStudioSamples.KeyPointItem, LabelStudioJsonContext.Default.PredictRequest.Options.GetTypeInfo(typeof(ContextResultItem))) as ContextResultItem ?? throw new InvalidOperationException()],
        };

        using (Assert.EnterMultipleScope())
        {
            Assert.That(InteractivePromptBuilder.Build(context, s_config), Is.Empty);
            Assert.That(InteractivePromptBuilder.Build(new InteractiveContext { Event = "predict", Result = context.Result }, s_config), Has.Count.EqualTo(1));
        }
    }

    [Test]
    public void Build_NullContextOrEmptyResult_GivesNoPrompts()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(InteractivePromptBuilder.Build(null, s_config), Is.Empty);
            Assert.That(InteractivePromptBuilder.Build(new InteractiveContext { Result = [] }, s_config), Is.Empty);
        }
    }

    [Test]
    public void Build_ItemForImageWithoutBrushOrOtherType_IsSkipped()
    {
        var prompts = Build(
            Point(10, 10).Replace("\"to_name\":\"image\"", "\"to_name\":\"elsewhere\""),
            """{"id":"b","type":"brushlabels","to_name":"image","original_width":10,"original_height":10,"value":{"format":"rle","rle":[]}}""");

        Assert.That(prompts, Is.Empty);
    }

    [TestCase("\"NaN\"", "50", "value.x")]
    [TestCase("50", "\"Infinity\"", "value.y")]
    [TestCase("-1", "50", "value.x")]
    [TestCase("50", "100.5", "value.y")]
    public void Build_InvalidKeyPointPercent_ThrowsValidationNamingField(string x, string y, string field)
    {
        var Item = $$$"""{"type":"keypointlabels","to_name":"image","original_width":100,"original_height":100,"value":{"x":{{{x}}},"y":{{{y}}}}}""";

        Assert.That(() => Build(Item), Throws.TypeOf<LabelStudioValidationException>()
            .With.Property("Field").EqualTo("context.result[0]." + field)
            .And.Message.Contains("between 0 and 100").Or.Message.Contains("finite"));
    }

    [TestCase("0", "10", "value.width")]
    [TestCase("10", "-5", "value.height")]
    [TestCase("\"NaN\"", "10", "value.width")]
    [TestCase("10", "101", "value.height")]
    public void Build_ZeroSizeOrInvertedRectangle_ThrowsValidation(string width, string height, string field)
    {
        Assert.That(() => Build(Rect("10", "10", width, height)), Throws.TypeOf<LabelStudioValidationException>()
            .With.Property("Field").EqualTo("context.result[0]." + field));
    }

    [Test]
    public void Build_MissingOriginalSize_ThrowsValidation()
    {
        const string Item = """{"type":"keypointlabels","to_name":"image","value":{"x":1,"y":1}}""";

        Assert.That(() => Build(Item), Throws.TypeOf<LabelStudioValidationException>().With.Message.Contains("original_width"));
    }

    [Test]
    public void Build_MoreThan64Points_ThrowsValidation()
    {
        var items = Enumerable.Range(0, InteractivePromptBuilder.MaxPoints + 1).Select(i => Point(i % 100, 1)).ToArray();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Build(items[..InteractivePromptBuilder.MaxPoints]).Single().Prompt.Points, Has.Count.EqualTo(64));
            Assert.That(() => Build(items), Throws.TypeOf<LabelStudioValidationException>().With.Message.Contains("more than 64 keypoints"));
        }
    }
}
