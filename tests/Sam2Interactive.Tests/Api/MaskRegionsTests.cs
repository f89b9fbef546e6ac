using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// The regions a labeling configuration asks for, through HTTP on the real server (stand-in models): polygon regions for
/// a PolygonLabels project, brush and polygon with <c>MASK_OUTPUT=both</c>, unlabeled Brush/Polygon controls. The
/// reference mask is the brush region of the same prompt (the stand-in model is deterministic).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MaskRegionsTests
{
    private const int W = 640, H = 480;
    private const string Image = "/data/upload/2/polygons.png";

    private const string Smart = """
        <KeyPointLabels name="tag2" toName="image" smart="true"><Label value="defect"/></KeyPointLabels>
        <RectangleLabels name="tag3" toName="image" smart="true"><Label value="defect"/></RectangleLabels>
        """;

    private const string PolygonConfig = "<View><Image name=\"image\" value=\"$image\"/>" + Smart +
        "<PolygonLabels name=\"poly\" toName=\"image\"><Label value=\"other\"/><Label value=\"Defect\"/></PolygonLabels></View>";

    private const string BothConfig = "<View><Image name=\"image\" value=\"$image\"/>" + Smart +
        "<BrushLabels name=\"brush\" toName=\"image\"><Label value=\"defect\"/></BrushLabels>" +
        "<PolygonLabels name=\"poly\" toName=\"image\"><Label value=\"defect\"/></PolygonLabels></View>";

    private const string UnlabeledConfig = "<View><Image name=\"image\" value=\"$image\"/>" + Smart +
        "<Polygon name=\"p\" toName=\"image\"/><Brush name=\"b\" toName=\"image\"/></View>";

    private LabelStudioStandIn _ls = null!;
    private TestServer _auto = null!;
    private TestServer _both = null!;
    private Scene _scene = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _scene = Scenes.Create(W, H);
        _ls.Files[Image] = _scene.Encoded;
        _auto = await TestServer.StartAsync(_ls);
        _both = await TestServer.StartAsync(_ls, new Dictionary<string, string?> { ["MASK_OUTPUT"] = "both" });
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _both.DisposeAsync();
        await _auto.DisposeAsync();
        await _ls.DisposeAsync();
    }

    // The stand-in's mask of a click on the red disc also takes the pink square (a second component) unless a negative
    // click excludes it, as in LabelStudioEndpointsTests.
    private static string KeyPointOnDisc()
    {
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        var pink = Scenes.Centre(Scenes.PinkSquare(W, H));
        return LabelStudioBodies.KeyPoint(disc.X, disc.Y, true, W, H) + "," + LabelStudioBodies.KeyPoint(pink.X, pink.Y, false, W, H);
    }

    private static string KeyPointOnDiscAndPink()
    {
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        return LabelStudioBodies.KeyPoint(disc.X, disc.Y, true, W, H);
    }

    private static string RectangleOnBlue() => LabelStudioBodies.Rectangle(Scenes.BlueRect(W, H), W, H);

    private static async Task<List<JsonElement>> Regions(TestServer server, string item, string config)
    {
        var (status, json) = await server.PostAsync("/predict", LabelStudioBodies.Predict(Image, item, config));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        return [.. json.RootElement.GetProperty("results")[0].GetProperty("result").EnumerateArray().Select(e => e.Clone())];
    }

    /// <summary>The stand-in model's mask for a prompt: the brush region the seed's configuration gets.</summary>
    private async Task<byte[]> ModelMask(string item) =>
        LabelStudioResults.MaskOf((await Regions(_auto, item, LabelStudioSamples.SeedLabelConfig)).Single(), W, H);

    /// <summary>The polygon regions drawn back at pixel centres (percent → pixels).</summary>
    private static byte[] DrawBack(IEnumerable<JsonElement> polygons) =>
        PolygonRaster.Fill(polygons.Select(r => (IReadOnlyList<(double X, double Y)>)[.. r.GetProperty("value").GetProperty("points").EnumerateArray()
            .Select(p => (p[0].GetDouble() / 100 * W, p[1].GetDouble() / 100 * H))]), W, H);

    [TestCase("keypoint")]
    [TestCase("rectangle")]
    public async Task Predict_PolygonLabelsOnly_PolygonRegionsCoverTheModelsMask(string prompt)
    {
        var item = prompt == "keypoint" ? KeyPointOnDisc() : RectangleOnBlue();

        var regions = await Regions(_auto, item, PolygonConfig);

        var expected = await ModelMask(item);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(regions, Is.Not.Empty);
            foreach (var region in regions)
            {
                Assert.That(region.GetProperty("type").GetString(), Is.EqualTo("polygonlabels"));
                Assert.That(region.GetProperty("from_name").GetString(), Is.EqualTo("poly"));
                Assert.That(region.GetProperty("to_name").GetString(), Is.EqualTo("image"));
                Assert.That((region.GetProperty("original_width").GetInt32(), region.GetProperty("original_height").GetInt32()), Is.EqualTo((W, H)));
                Assert.That(region.GetProperty("image_rotation").GetInt32(), Is.Zero);
                Assert.That(region.GetProperty("readonly").GetBoolean(), Is.False);
                Assert.That(region.GetProperty("score").GetDouble(), Is.InRange(0, 1));
                var value = region.GetProperty("value");
                Assert.That(value.GetProperty("closed").GetBoolean(), Is.True);
                // The prompt's "defect" matches "Defect" case-insensitively.
                Assert.That(value.GetProperty("polygonlabels").EnumerateArray().Select(l => l.GetString()), Is.EqualTo(new[] { "Defect" }));
                Assert.That(value.GetProperty("points").EnumerateArray().SelectMany(p => p.EnumerateArray()).Select(c => c.GetDouble()), Is.All.InRange(0, 100));
                Assert.That(value.GetProperty("points").GetArrayLength(), Is.InRange(3, 1000));
            }

            Assert.That(regions.Select(r => r.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(regions.Count));
            Assert.That(PolygonRaster.IoU(DrawBack(regions), expected), Is.GreaterThanOrEqualTo(0.97));
        }
    }

    [Test]
    public async Task Predict_MaskOfTwoComponents_OnePolygonRegionEachLargestFirst()
    {
        var item = KeyPointOnDiscAndPink();

        var regions = await Regions(_auto, item, PolygonConfig);

        var expected = await ModelMask(item);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(regions, Has.Count.EqualTo(2));
            // The pink square (192×144 = 27 648 pixels) is larger than the red disc (r = 86.4 px, about 23 450): it comes first.
            Assert.That(Scenes.IoU(DrawBack([regions[0]]), _scene.Objects["pink"]), Is.GreaterThanOrEqualTo(0.9));
            Assert.That(Scenes.IoU(DrawBack([regions[1]]), _scene.Objects["red"]), Is.GreaterThanOrEqualTo(0.9));
            Assert.That(PolygonRaster.IoU(DrawBack(regions), expected), Is.GreaterThanOrEqualTo(0.97));
        }
    }

    [Test]
    public async Task Predict_BothControlsAuto_BrushOnlyAsBefore()
    {
        var regions = await Regions(_auto, KeyPointOnDisc(), BothConfig);

        Assert.That(regions.Select(r => r.GetProperty("type").GetString()), Is.EqualTo(new[] { "brushlabels" }));
    }

    [Test]
    public async Task Predict_MaskOutputBoth_OneBrushAndOnePolygonPerObjectWithTheSameLabel()
    {
        var regions = await Regions(_both, KeyPointOnDisc() + "," + RectangleOnBlue(), BothConfig);

        using (Assert.EnterMultipleScope())
        {
            // Object order, then kind order within each object.
            Assert.That(regions.Select(r => r.GetProperty("type").GetString()), Is.EqualTo(new[] { "brushlabels", "polygonlabels", "brushlabels", "polygonlabels" }));
            Assert.That(regions.Select(r => r.GetProperty("from_name").GetString()), Is.EqualTo(new[] { "brush", "poly", "brush", "poly" }));
            Assert.That(regions[0].GetProperty("value").GetProperty("brushlabels")[0].GetString(), Is.EqualTo("defect"));
            Assert.That(regions[1].GetProperty("value").GetProperty("polygonlabels")[0].GetString(), Is.EqualTo("defect"));
            Assert.That(regions.Select(r => r.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(4));
            for (var o = 0; o < 2; o++)
            {
                var brush = LabelStudioResults.MaskOf(regions[2 * o], W, H);
                Assert.That(PolygonRaster.IoU(DrawBack([regions[2 * o + 1]]), brush), Is.GreaterThanOrEqualTo(0.97), $"object {o}");
                Assert.That(regions[2 * o + 1].GetProperty("score").GetDouble(), Is.EqualTo(regions[2 * o].GetProperty("score").GetDouble()));
            }

            Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(regions[0], W, H), _scene.Objects["red"]), Is.GreaterThanOrEqualTo(0.9));
            Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(regions[2], W, H), _scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
        }
    }

    [Test]
    public async Task Predict_UnlabeledPolygonAndBrushControls_TypesWithoutLabelLists()
    {
        var regions = await Regions(_both, KeyPointOnDisc(), UnlabeledConfig);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(regions.Select(r => r.GetProperty("type").GetString()), Is.EqualTo(new[] { "brush", "polygon" }));
            Assert.That(regions.Select(r => r.GetProperty("from_name").GetString()), Is.EqualTo(new[] { "b", "p" }));
            Assert.That(regions[0].GetProperty("value").TryGetProperty("brushlabels", out _), Is.False);
            Assert.That(regions[1].GetProperty("value").TryGetProperty("polygonlabels", out _), Is.False);
            var brush = LabelStudioResults.MaskOf(regions[0], W, H);
            Assert.That(PolygonRaster.IoU(DrawBack([regions[1]]), brush), Is.GreaterThanOrEqualTo(0.97));
        }
    }

    [Test]
    public async Task Predict_PolygonRequestedButOnlyBrushControl_BrushRegionAndPolygonLeftOut()
    {
        var regions = await Regions(_both, KeyPointOnDisc(), LabelStudioSamples.SeedLabelConfig);

        Assert.That(regions.Select(r => r.GetProperty("type").GetString()), Is.EqualTo(new[] { "brushlabels" }));
    }

    [Test]
    public async Task Predict_NoMaskControl_EmptyResults()
    {
        var (status, json) = await _auto.PostAsync("/predict",
            LabelStudioBodies.Predict(Image, KeyPointOnDisc(), "<View><Image name=\"image\" value=\"$image\"/>" + Smart + "</View>"));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(json.RootElement.GetProperty("results").GetArrayLength(), Is.Zero);
    }

    [Test]
    public void Outputs_RequestedKindMissing_LoggedOncePerConfiguration()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var logger = new RecordingLogger();
        var regions = new MaskRegions(new MaskOutputOptions { Output = MaskOutput.Polygon }, new ApiMetrics(services.GetRequiredService<IMeterFactory>()), logger);
        var parser = new LabelConfigParser();
        var target = parser.Parse(LabelStudioSamples.SeedLabelConfig).Config!.Targets[0];

        var first = regions.Outputs(target);
        var second = regions.Outputs(parser.Parse(LabelStudioSamples.SeedLabelConfig).Config!.Targets[0]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(second, Is.SameAs(first), "selected once per configuration (the parser's cached instance)");
            Assert.That(first, Is.Empty);
            Assert.That(logger.Events, Is.EqualTo(new[] { 1204 }));
            Assert.That(logger.Messages.Single(), Does.Contain("MASK_OUTPUT=polygon").And.Contain("'image'").And.Contain("PolygonLabels or Polygon"));
        }
    }

    private sealed class RecordingLogger : ILogger<MaskRegions>
    {
        public List<int> Events { get; } = [];

        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Events)
            {
                Events.Add(eventId.Id);
                Messages.Add(formatter(state, exception));
            }
        }
    }
}
