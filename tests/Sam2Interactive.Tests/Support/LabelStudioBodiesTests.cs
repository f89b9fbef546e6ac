using System.Globalization;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Testing;
using SkiaSharp;

namespace Sam2Interactive.Tests.Support;

/// <summary>
/// The request bodies the tests and benchmarks send are valid JSON carrying the intended numbers under a comma-decimal
/// culture: de-DE writes 12.5 as "12,5", which inside a JSON number splits it (or breaks the document).
/// </summary>
[TestFixture]
[Category("Fast")]
[SetCulture("de-DE")]
public sealed class LabelStudioBodiesTests
{
    private const int W = 640, H = 480;

    [SetUp]
    public void CultureIsCommaDecimal() =>
        // Without ICU (invariant globalization) de-DE would format like the invariant culture and these tests would prove nothing.
        Assert.That(12.5.ToString(CultureInfo.CurrentCulture), Is.EqualTo("12,5"), "the test runs under a comma-decimal culture");

    [Test]
    public void KeyPoint_GermanCulture_ValidJsonWithPercentOfImage()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.KeyPoint(101.5f, 297.6f, true, W, H));

        var value = json.RootElement.GetProperty("value");
        Assert.That(value.GetProperty("x").GetSingle(), Is.EqualTo(101.5f / W * 100));
        Assert.That(value.GetProperty("y").GetSingle(), Is.EqualTo(297.6f / H * 100));
        Assert.That(value.GetProperty("width").GetDouble(), Is.EqualTo(0.3));
        Assert.That(json.RootElement.GetProperty("original_width").GetInt32(), Is.EqualTo(W));
        Assert.That(json.RootElement.GetProperty("original_height").GetInt32(), Is.EqualTo(H));
        Assert.That(json.RootElement.GetProperty("is_positive").GetBoolean(), Is.True);
    }

    [Test]
    public void PromptUi_GermanCulture_ValidJsonShapedAsSection7()
    {
        var items = LabelStudioBodies.PromptPoint(101.5f, 297.6f, false, W, H) + "," + LabelStudioBodies.PromptBox(10.5f, 20.25f, 30.5f, 25.75f);

        using var json = JsonDocument.Parse(LabelStudioBodies.PromptUi("/data/upload/2/a.png", "predict", items));

        var context = json.RootElement.GetProperty("params").GetProperty("context");
        Assert.That(context.GetProperty("event").GetString(), Is.EqualTo("predict"));
        var point = context.GetProperty("result")[0];
        Assert.That(point.GetProperty("value").GetProperty("x").GetSingle(), Is.EqualTo(101.5f / W * 100));
        Assert.That(point.GetProperty("value").GetProperty("positive").GetBoolean(), Is.False);
        Assert.That(point.TryGetProperty("id", out _) || point.TryGetProperty("from_name", out _) || point.TryGetProperty("original_width", out _), Is.False);
        Assert.That(context.GetProperty("result")[1].GetProperty("value").GetProperty("height").GetSingle(), Is.EqualTo(25.75f));
    }

    [Test]
    public void KeyPoint_NegativeAndUnspecified_IsPositiveFalseOrAbsent()
    {
        using var negative = JsonDocument.Parse(LabelStudioBodies.KeyPoint(10.25f, 20.75f, false, W, H));
        using var unspecified = JsonDocument.Parse(LabelStudioBodies.KeyPoint(10.25f, 20.75f, null, W, H));

        Assert.That(negative.RootElement.GetProperty("is_positive").GetBoolean(), Is.False);
        Assert.That(unspecified.RootElement.TryGetProperty("is_positive", out _), Is.False);
    }

    [Test]
    public void Rectangle_GermanCulture_ValidJsonWithPaddedPercentBoundsAndRotation()
    {
        var r = new SKRect(96.4f, 297.6f, 512.2f, 432.1f);

        using var json = JsonDocument.Parse(LabelStudioBodies.Rectangle(r, W, H, pad: 2.5f, rotation: 12.5));

        var value = json.RootElement.GetProperty("value");
        Assert.That(value.GetProperty("x").GetSingle(), Is.EqualTo((r.Left - 2.5f) / W * 100));
        Assert.That(value.GetProperty("y").GetSingle(), Is.EqualTo((r.Top - 2.5f) / H * 100));
        Assert.That(value.GetProperty("width").GetSingle(), Is.EqualTo((r.Width + 5f) / W * 100));
        Assert.That(value.GetProperty("height").GetSingle(), Is.EqualTo((r.Height + 5f) / H * 100));
        Assert.That(value.GetProperty("rotation").GetDouble(), Is.EqualTo(12.5));
    }

    [Test]
    public void Predict_GermanCulture_ValidJsonCarryingTaskImageAndItems()
    {
        var items = LabelStudioBodies.KeyPoint(101.5f, 297.6f, true, W, H) + "," + LabelStudioBodies.KeyPoint(320.5f, 10.5f, false, W, H);

        using var json = JsonDocument.Parse(LabelStudioBodies.Predict("/data/upload/2/scene.png", items, taskId: 1234567));

        var root = json.RootElement;
        Assert.That(root.GetProperty("tasks")[0].GetProperty("id").GetInt64(), Is.EqualTo(1234567));
        Assert.That(root.GetProperty("tasks")[0].GetProperty("data").GetProperty("image").GetString(), Is.EqualTo("/data/upload/2/scene.png"));
        var result = root.GetProperty("params").GetProperty("context").GetProperty("result");
        Assert.That(result.GetArrayLength(), Is.EqualTo(2));
        Assert.That(result[1].GetProperty("value").GetProperty("x").GetSingle(), Is.EqualTo(320.5f / W * 100));
        Assert.That(root.GetProperty("label_config").GetString(), Does.Contain("<BrushLabels"));
    }

    [Test]
    public void Predict_NoItems_ContextNull()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.Predict("/data/upload/2/scene.png", null));

        Assert.That(json.RootElement.GetProperty("params").GetProperty("context").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public void Webhook_GermanCulture_ValidJsonWithEveryTask()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.Webhook((1234567, "/data/upload/2/a.png"), (8, "/data/upload/2/b.png")));

        var tasks = json.RootElement.GetProperty("tasks");
        Assert.That(json.RootElement.GetProperty("action").GetString(), Is.EqualTo("TASKS_CREATED"));
        Assert.That(tasks.EnumerateArray().Select(t => t.GetProperty("id").GetInt64()), Is.EqualTo(new long[] { 1234567, 8 }));
        Assert.That(tasks[1].GetProperty("data").GetProperty("image").GetString(), Is.EqualTo("/data/upload/2/b.png"));
    }

    [Test]
    public void RectanglePercent_GermanCulture_ValidJsonWithTheGivenPercentAndRotation()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.RectanglePercent(12.5f, 33.25f, 40.125f, 20.5f, W, H, rotation: 90, id: "rot"));

        var value = json.RootElement.GetProperty("value");
        Assert.That(json.RootElement.GetProperty("id").GetString(), Is.EqualTo("rot"));
        Assert.That((value.GetProperty("x").GetSingle(), value.GetProperty("y").GetSingle()), Is.EqualTo((12.5f, 33.25f)));
        Assert.That((value.GetProperty("width").GetSingle(), value.GetProperty("height").GetSingle()), Is.EqualTo((40.125f, 20.5f)));
        Assert.That(value.GetProperty("rotation").GetDouble(), Is.EqualTo(90));
    }

    [Test]
    public void Click_CompactConfig_OnePositiveKeyPointWithItsLabelAndTask()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.Click("/data/upload/1/a.jpg", 256.5f, 358.4f, 1024, 1024, taskId: 901,
            labelConfig: LabelStudioBodies.CompactLabelConfig, label: "object"));

        var root = json.RootElement;
        var item = root.GetProperty("params").GetProperty("context").GetProperty("result").EnumerateArray().Single();
        Assert.That(root.GetProperty("tasks")[0].GetProperty("id").GetInt64(), Is.EqualTo(901));
        Assert.That(root.GetProperty("label_config").GetString(), Is.EqualTo(LabelStudioBodies.CompactLabelConfig));
        Assert.That(item.GetProperty("value").GetProperty("x").GetSingle(), Is.EqualTo(256.5f / 1024 * 100));
        Assert.That(item.GetProperty("value").GetProperty("y").GetSingle(), Is.EqualTo(358.4f / 1024 * 100));
        Assert.That(item.GetProperty("value").GetProperty("keypointlabels")[0].GetString(), Is.EqualTo("object"));
        Assert.That(item.GetProperty("is_positive").GetBoolean(), Is.True);
    }

    [Test]
    public void InteractivePredict_ProtocolItems_ValidJsonWithBothItems()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.InteractivePredict(LabelStudioSamples.KeyPointItem + "," + LabelStudioSamples.RectangleItem));

        var result = json.RootElement.GetProperty("params").GetProperty("context").GetProperty("result");
        Assert.That(result.EnumerateArray().Select(r => r.GetProperty("type").GetString()), Is.EqualTo(new[] { "keypointlabels", "rectanglelabels" }));
        Assert.That(result[0].GetProperty("value").GetProperty("x").GetDouble(), Is.EqualTo(49.44));
    }

    [Test]
    public void Webhook_WithLabelConfig_ProjectCarriesIt()
    {
        using var json = JsonDocument.Parse(LabelStudioBodies.Webhook(LabelStudioBodies.CompactLabelConfig, (7, "/data/upload/1/a.jpg")));

        Assert.That(json.RootElement.GetProperty("project").GetProperty("label_config").GetString(), Is.EqualTo(LabelStudioBodies.CompactLabelConfig));
    }

    [Test]
    public void Predict_ImageAndLabelWithQuotesAndBackslashes_EscapedNotBroken()
    {
        const string Image = "/data/local-files/?d=a \"b\"\\c.png";

        using var json = JsonDocument.Parse(LabelStudioBodies.Predict(Image, LabelStudioBodies.KeyPoint(1, 2, true, W, H, label: "say \"hi\"")));

        Assert.That(json.RootElement.GetProperty("tasks")[0].GetProperty("data").GetProperty("image").GetString(), Is.EqualTo(Image));
        var item = json.RootElement.GetProperty("params").GetProperty("context").GetProperty("result")[0];
        Assert.That(item.GetProperty("value").GetProperty("keypointlabels")[0].GetString(), Is.EqualTo("say \"hi\""));
    }
}
