using System.Net;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// Label Studio's newer interactive prompt UI (docs/label-studio-protocol.md §7) through the real server (Kestrel on
/// loopback, stand-in SAM2 models, the Label Studio stand-in), with bodies shaped as §7 shows. Its PNG masks are decoded
/// as the browser reads them (red &gt; 127) and compared pixel for pixel with the smart tools' brush mask for the same
/// prompt on the same image.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PromptUiEndpointTests
{
    private const int W = 640, H = 480;
    private const string Image = "/data/upload/2/scene.png";
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;
    private Scene _scene = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _scene = Scenes.Create(W, H);
        _ls.Files[Image] = _scene.Encoded;
        foreach (var name in new[] { "once", "prewarm" }) _ls.Files[$"/data/upload/2/{name}.png"] = _scene.Encoded;
        _server = await TestServer.StartAsync(_ls);
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    private const string PolygonConfig = """
        <View>
          <Image name="picture" value="$image"/>
          <PolygonLabels name="outline" toName="picture"><Label value="defect"/></PolygonLabels>
        </View>
        """;

    private async Task<JsonElement> PostOk(string body)
    {
        var (status, json) = await _server.PostAsync("/predict", body);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        return json.RootElement.Clone();
    }

    private static string Point(SkiaSharp.SKPoint p, bool positive = true) => LabelStudioBodies.PromptPoint(p.X, p.Y, positive, W, H);

    private static (string Tag, string Output)[] TargetsOf(JsonElement answer)
    {
        var item = LabelStudioResults.FirstRegion(answer);
        Assert.That((item.GetProperty("id").GetString(), item.GetProperty("type").GetString()), Is.EqualTo(("c1", "capabilities")));
        var value = item.GetProperty("value");
        Assert.That(value.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()), Is.EqualTo(new[] { "point", "box" }));
        Assert.That(value.GetProperty("model_info").GetProperty("version").GetString(), Is.EqualTo("sam2.1_hiera_tiny"));
        Assert.That(value.GetProperty("model_info").GetProperty("name").GetString(), Is.Not.Empty);
        return [.. value.GetProperty("targets").EnumerateArray().Select(t => (t.GetProperty("tag").GetString()!, t.GetProperty("output").GetString()!))];
    }

    [Test]
    public async Task Predict_CapabilitiesBitmaskLabelsProject_MaskTarget()
    {
        var answer = await PostOk(LabelStudioBodies.PromptUi(Image, "capabilities", null));

        Assert.That(TargetsOf(answer), Is.EqualTo(new[] { ("BitmaskLabels", "mask") }));
    }

    [Test]
    public async Task Predict_CapabilitiesPolygonLabelsProject_PolygonTarget()
    {
        var answer = await PostOk(LabelStudioBodies.PromptUi(Image, "capabilities", null, PolygonConfig));

        Assert.That(TargetsOf(answer), Is.EqualTo(new[] { ("PolygonLabels", "polygon") }));
    }

    [Test]
    public async Task Predict_CapabilitiesSeedConfig_RectangleLabelsBboxTarget()
    {
        // The seed has BrushLabels (not driven by this UI), smart KeyPointLabels (a prompt tool) and RectangleLabels.
        var answer = await PostOk(LabelStudioBodies.PromptUi(Image, "capabilities", null, LabelStudioSamples.SeedLabelConfig));

        Assert.That(TargetsOf(answer), Is.EqualTo(new[] { ("RectangleLabels", "bbox") }));
    }

    public static IEnumerable<TestCaseData> Prompts()
    {
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        var pink = Scenes.Centre(Scenes.PinkSquare(W, H));
        var blue = Scenes.BlueRect(W, H);
        float x = (blue.Left - 5) / W * 100, y = (blue.Top - 5) / H * 100, w = (blue.Width + 10) / W * 100, h = (blue.Height + 10) / H * 100;
        yield return new TestCaseData(Point(disc),
                LabelStudioBodies.KeyPoint(disc.X, disc.Y, true, W, H), "red+pink") // one click takes the similar pink square too
            .SetName("Predict_OneClick_PngEqualsTheSmartToolsMask");
        yield return new TestCaseData(Point(disc) + "," + Point(pink, positive: false),
                LabelStudioBodies.KeyPoint(disc.X, disc.Y, true, W, H) + "," + LabelStudioBodies.KeyPoint(pink.X, pink.Y, false, W, H), "red")
            .SetName("Predict_TwoClicksOneNegative_PngEqualsTheSmartToolsMask");
        yield return new TestCaseData(LabelStudioBodies.PromptBox(x, y, w, h),
                LabelStudioBodies.RectanglePercent(x, y, w, h, W, H), "blue")
            .SetName("Predict_Box_PngEqualsTheSmartToolsMask");
    }

    [TestCaseSource(nameof(Prompts))]
    public async Task Predict_PromptUiShape_PngEqualsTheSmartToolsMask(string promptUiItems, string smartItems, string shape)
    {
        var answer = await PostOk(LabelStudioBodies.PromptUi(Image, null, promptUiItems));
        var classic = await PostOk(LabelStudioBodies.Predict(Image, smartItems));

        var region = LabelStudioResults.FirstRegion(answer);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(answer.GetProperty("results")[0].GetProperty("model_version").GetString(), Is.EqualTo("sam2.1_hiera_tiny"));
            Assert.That(region.GetProperty("type").GetString(), Is.EqualTo("bitmask"));
            Assert.That((region.GetProperty("from_name").GetString(), region.GetProperty("to_name").GetString()), Is.EqualTo(("tag", "image")));
            Assert.That(region.GetProperty("origin").GetString(), Is.EqualTo("manual"));
            Assert.That((region.GetProperty("value").GetProperty("width").GetInt32(), region.GetProperty("value").GetProperty("height").GetInt32()), Is.EqualTo((W, H)));
            Assert.That(region.GetProperty("score").GetDouble(), Is.GreaterThan(0));
        }

        var png = LabelStudioResults.BitmaskOf(region, W, H);
        var brush = LabelStudioResults.MaskOf(LabelStudioResults.FirstRegion(classic), W, H);
        Assert.That(png, Is.EqualTo(brush), "the prompt UI's mask differs from the smart tools' mask for the same prompt");
        var objects = shape.Split('+').Select(n => _scene.Objects[n]).ToList();
        var expected = Enumerable.Range(0, W * H).Select(i => objects.Any(o => o[i])).ToArray();
        Assert.That(Scenes.IoU(png, expected), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public async Task Predict_ReleaseTwice_AnswersBothWithOneEmptyResult()
    {
        for (var i = 0; i < 2; i++)
        {
            var answer = await PostOk(LabelStudioBodies.PromptUi(Image, "release", null));

            Assert.That(answer.GetProperty("results").GetArrayLength(), Is.EqualTo(1));
            Assert.That(answer.GetProperty("results")[0].GetProperty("result").GetArrayLength(), Is.Zero);
        }
    }

    [TestCase("track")]          // video only
    [TestCase("no-such-event")]
    public async Task Predict_UnknownEvent_NonEmptyResultsWithoutRegions(string @event)
    {
        var answer = await PostOk(LabelStudioBodies.PromptUi(Image, @event, Point(Scenes.Centre(Scenes.RedDiscBounds(W, H)))));

        Assert.That(answer.GetProperty("results").GetArrayLength(), Is.EqualTo(1));
        Assert.That(answer.GetProperty("results")[0].GetProperty("result").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task Predict_PointOutsideTheImage_422NamingTheField()
    {
        var (status, json) = await _server.PostAsync("/predict", LabelStudioBodies.PromptUi(Image, null,
            """{"type":"keypointlabels","value":{"x":140,"y":20,"positive":true}}"""));

        Assert.That((int)status, Is.EqualTo(422));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("context.result[0].value.x"));
    }

    [Test]
    public async Task Predict_Prewarm_EncodesTheTaskImage()
    {
        const string Path = "/data/upload/2/prewarm.png";

        var answer = await PostOk(LabelStudioBodies.PromptUi(Path, "prewarm", null));

        Assert.That(answer.GetProperty("results").GetArrayLength(), Is.EqualTo(1));
        await Traffic.WaitForAsync(() => Task.FromResult(_server.HasEmbedding(Path)), TimeSpan.FromSeconds(60), "the prewarmed image to be cached");
    }

    [Test]
    public async Task Predict_ClassicThenPromptUiOnOneTask_EncodesTheImageOnce()
    {
        const string Path = "/data/upload/2/once.png";
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        var before = await _server.MetricAsync("sam2_encoder_runs_total");

        await PostOk(LabelStudioBodies.Predict(Path, LabelStudioBodies.KeyPoint(disc.X, disc.Y, true, W, H)));
        var answer = await PostOk(LabelStudioBodies.PromptUi(Path, null, Point(disc)));

        Assert.That(LabelStudioResults.FirstRegion(answer).GetProperty("type").GetString(), Is.EqualTo("bitmask"));
        Assert.That(await _server.MetricAsync("sam2_encoder_runs_total") - before, Is.EqualTo(1));
    }

    [Test]
    public async Task Predict_SmartKeypointInClassicBitmaskLabelsProject_BitmaskLabelsRegionWithTheSameMask()
    {
        const string Config = """
            <View>
              <Image name="image" value="$image"/>
              <BitmaskLabels name="mask" toName="image"><Label value="defect"/></BitmaskLabels>
              <KeyPointLabels name="tag2" toName="image" smart="true"><Label value="defect"/></KeyPointLabels>
            </View>
            """;
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        var click = LabelStudioBodies.KeyPoint(disc.X, disc.Y, true, W, H);

        var answer = await PostOk(LabelStudioBodies.Predict(Image, click, Config));
        var brush = await PostOk(LabelStudioBodies.Predict(Image, click));

        var region = LabelStudioResults.FirstRegion(answer);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(answer.GetProperty("results")[0].GetProperty("result").GetArrayLength(), Is.EqualTo(1));
            Assert.That((region.GetProperty("type").GetString(), region.GetProperty("from_name").GetString()), Is.EqualTo(("bitmasklabels", "mask")));
            Assert.That(region.GetProperty("value").GetProperty("bitmasklabels")[0].GetString(), Is.EqualTo("defect"));
        }

        // The alpha channel is what Label Studio's BitmaskLabels region colours; red is what the prompt UI reads.
        var expected = LabelStudioResults.MaskOf(LabelStudioResults.FirstRegion(brush), W, H);
        Assert.That(LabelStudioResults.BitmaskOf(region, W, H, channel: 3), Is.EqualTo(expected));
        Assert.That(LabelStudioResults.BitmaskOf(region, W, H, channel: 0), Is.EqualTo(expected));
    }
}
