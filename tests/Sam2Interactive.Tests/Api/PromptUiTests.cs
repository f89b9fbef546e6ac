using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>Which /predict calls are the prompt UI's (docs/label-studio-protocol.md §7), their events, prompts and targets.</summary>
[TestFixture]
[Category("Fast")]
public sealed class PromptUiTests
{
    private static InteractiveContext? Context(string body) =>
        JsonSerializer.Deserialize(body, LabelStudioJsonContext.Default.PredictRequest)!.Context;

    private static InteractiveContext Items(string items) => Context(LabelStudioBodies.PromptUi("/a.png", null, items))!;

    public static IEnumerable<TestCaseData> Calls()
    {
        TestCaseData C(string name, string body, bool expected) => new TestCaseData(body).Returns(expected).SetName("Matches_" + name);
        yield return C("SmartKeypoint_False", LabelStudioBodies.Click("/a.png", 10, 10, 100, 100), false);
        yield return C("SmartKeypointWithValuePositive_False",
            LabelStudioBodies.Predict("/a.png", LabelStudioBodies.KeyPoint(10, 10, null, 100, 100).Replace("\"width\":0.3,", "\"width\":0.3,\"positive\":true,", StringComparison.Ordinal)), false);
        yield return C("SmartRectangle_False", LabelStudioBodies.Predict("/a.png", LabelStudioBodies.RectanglePercent(1, 2, 3, 4, 100, 100)), false);
        yield return C("TaskOpened_False", LabelStudioBodies.Predict("/a.png", null), false);
        yield return C("PromptUiPoints_True", LabelStudioBodies.PromptUi("/a.png", null, LabelStudioBodies.PromptPoint(1, 2, true, 10, 10)), true);
        yield return C("PromptUiBox_True", LabelStudioBodies.PromptUi("/a.png", null, LabelStudioBodies.PromptBox(10, 20, 30, 25)), true);
        yield return C("Capabilities_True", LabelStudioBodies.PromptUi("/a.png", "capabilities", null), true);
        yield return C("EventWithSmartItems_True", LabelStudioBodies.Click("/a.png", 10, 10, 100, 100).Replace("\"context\":{", "\"context\":{\"event\":\"reset\",", StringComparison.Ordinal), true);
    }

    [TestCaseSource(nameof(Calls))]
    public bool Matches_Call_TrueOnlyForThePromptUi(string body) => PromptUi.Matches(Context(body));

    [TestCase(null, "Predict")]
    [TestCase("predict", "Predict")]
    [TestCase("Capabilities", "Capabilities")] // matched case-insensitively
    [TestCase("release", "Release")]
    [TestCase("prewarm", "Prewarm")]
    [TestCase("track", "Unknown")]              // video only
    public void EventOf_Event_Kind(string? ev, string expected) =>
        Assert.That(PromptUi.EventOf(new InteractiveContext { Event = ev }).ToString(), Is.EqualTo(expected));

    [Test]
    public void Parse_PointsSoFar_OneObjectWithPolarityInPixels()
    {
        var prompt = PromptUi.Parse(Items("""{"type":"keypointlabels","value":{"x":45.2,"y":30.1,"positive":true}},{"type":"keypointlabels","value":{"x":60,"y":55,"positive":false}}"""));

        var pixels = prompt!.ToPixels(1000, 500);
        Assert.That(pixels.Points.Select(p => (p.X, p.Y, p.Positive)), Is.EqualTo(new[] { (452f, 150.5f, true), (600f, 275f, false) }));
        Assert.That(pixels.Box, Is.Null);
    }

    [Test]
    public void Parse_Box_BoxInPixelsClippedToTheImage()
    {
        var prompt = PromptUi.Parse(Items(LabelStudioBodies.PromptBox(10, 20, 95, 25)));

        var box = prompt!.ToPixels(200, 100).Box!.Value;
        Assert.That((box.X0, box.Y0, box.X1, box.Y1), Is.EqualTo((20f, 20f, 200f, 45f)));
    }

    [TestCase("""{"type":"keypointlabels","value":{"x":101,"y":5,"positive":true}}""", "context.result[0].value.x")]
    [TestCase("""{"type":"keypointlabels","value":{"y":5}}""", "context.result[0].value.x")]
    [TestCase("""{"type":"rectanglelabels","value":{"x":1,"y":5,"width":0,"height":3}}""", "context.result[0].value.width")]
    [TestCase("""{"type":"keypointlabels"}""", "context.result[0].value")]
    public void Parse_BadValue_ValidationErrorNamingTheField(string items, string field)
    {
        var e = Assert.Throws<LabelStudioValidationException>(() => PromptUi.Parse(Items(items)));
        Assert.That(e!.Field, Is.EqualTo(field));
    }

    [Test]
    public void Parse_NoPointOrBox_Null() =>
        Assert.That(PromptUi.Parse(Items("""{"type":"polygonlabels","value":{"points":[[1,2]]}}""")), Is.Null);

    [TestCase("<BitmaskLabels name=\"m\" toName=\"image\"/><RectangleLabels name=\"r\" toName=\"image\"/>", "BitmaskLabels:mask,RectangleLabels:bbox", "m")]
    [TestCase("<VectorLabels name=\"v\" toName=\"image\"/><PolygonLabels name=\"p\" toName=\"image\"/>", "PolygonLabels:polygon,VectorLabels:polygon", "p")]
    [TestCase("<BrushLabels name=\"b\" toName=\"image\"/>", "", "b")] // no target: a region still names the Image's first control
    public void TargetsAndTarget_Config_TargetsInTagOrderAndRegionControl(string controls, string targets, string control)
    {
        var config = LabelConfigParser.ParseUncached($"""<View><Image name="image" value="$image"/>{controls}</View>""");

        Assert.That(string.Join(",", PromptUi.Targets(config).Select(t => t.Tag + ":" + t.Output)), Is.EqualTo(targets));
        Assert.That(PromptUi.Target(config)!.Value.Control!.Name, Is.EqualTo(control));
    }
}
