using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using Sam2Interactive.Api.Automatic;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// AUTO_MASKS=on through HTTP against the Label Studio stand-in: a task opened without prompts gets one brush region per
/// drawn object when the work fits AUTO_PREDICT_BUDGET; otherwise the answer is empty and the prediction is posted later,
/// once per task and model version.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class AutomaticMasksEndpointTests
{
    private const int W = 640, H = 480;
    private static readonly TimeSpan s_safety = TimeSpan.FromSeconds(120);
    private LabelStudioStandIn _ls = null!;
    private Scene _scene = null!;

    [OneTimeSetUp]
    public async Task StartLabelStudio()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _scene = AutomaticScenes.Create(W, H);
        _ls.Projects[3] = ("auto", LabelStudioSamples.BananaLabelConfig);
    }

    [OneTimeTearDown]
    public async Task StopLabelStudio() => await _ls.DisposeAsync();

    private string AddTask(long id)
    {
        var image = $"/data/upload/3/auto-{id}.png";
        _ls.Files[image] = _scene.Encoded;
        _ls.Tasks[id] = (3, $$"""{"image":"{{image}}"}""", 0);
        return image;
    }

    private static Task<TestServer> StartServer(LabelStudioStandIn ls, string budget, string pointsPerSide = "8") =>
        TestServer.StartAsync(ls, new Dictionary<string, string?>
        {
            ["AUTO_MASKS"] = "on",
            ["AUTO_POINTS_PER_SIDE"] = pointsPerSide,
            ["AUTO_PREDICT_BUDGET"] = budget,
        });

    private static string Opened(string image, long taskId) => LabelStudioBodies.Predict(image, null, LabelStudioSamples.BananaLabelConfig, taskId);

    /// <summary>For each drawn object, how many regions match it with IoU ≥ 0.9.</summary>
    private Dictionary<string, int> Matches(JsonElement regions) =>
        _scene.Objects.ToDictionary(o => o.Key,
            o => regions.EnumerateArray().Count(r => Scenes.IoU(LabelStudioResults.MaskOf(r, W, H), o.Value) >= 0.9));

    [Test]
    public async Task Predict_TaskOpenedEmbeddingHeldWorkFits_AnswersOneBrushRegionPerObject()
    {
        await using var server = await StartServer(_ls, "90s");
        var image = AddTask(41);
        // A click first, so the embedding is held when the task is opened.
        var disc = AutomaticScenes.Disc(W, H);
        var (clickStatus, _) = await server.PostAsync("/predict",
            LabelStudioBodies.Predict(image, LabelStudioBodies.KeyPoint(disc.MidX, disc.MidY, true, W, H, "Banana"), LabelStudioSamples.BananaLabelConfig, 41));
        Assert.That(clickStatus, Is.EqualTo(HttpStatusCode.OK));

        var (status, json) = await server.PostAsync("/predict", Opened(image, 41));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var prediction = json.RootElement.GetProperty("results")[0];
        var regions = prediction.GetProperty("result");
        Assert.That(Matches(regions).Values, Is.All.EqualTo(1), "each drawn object is one region");
        Assert.That(regions.GetArrayLength(), Is.EqualTo(4), "the three objects and the background");
        foreach (var r in regions.EnumerateArray())
        {
            Assert.That(r.GetProperty("type").GetString(), Is.EqualTo("brushlabels"));
            Assert.That(r.GetProperty("from_name").GetString(), Is.EqualTo("tag"));
            Assert.That(r.GetProperty("value").GetProperty("brushlabels")[0].GetString(), Is.EqualTo("Apple"), "AUTO_LABEL unset: the control's first label");
        }
        var areas = regions.EnumerateArray().Select(r => LabelStudioResults.MaskOf(r, W, H).Count(b => b != 0)).ToList();
        Assert.That(areas, Is.Ordered.Descending, "largest first");
        Assert.That(prediction.GetProperty("model_version").GetString(), Is.EqualTo(server.App.Services.GetRequiredService<SegmentationService>().ModelVersion));
        Assert.That(_ls.Predictions.Where(p => p.Task == 41), Is.Empty, "answered in the response, nothing posted");
    }

    private const string PolygonConfig = """
        <View>
          <Image name="image" value="$image"/>
          <PolygonLabels name="poly" toName="image"><Label value="Thing"/></PolygonLabels>
          <KeyPointLabels name="tag2" toName="image" smart="true"><Label value="Thing"/></KeyPointLabels>
        </View>
        """;

    [Test]
    public async Task Predict_TaskOpenedPolygonConfig_AnswersPolygonRegionsOnePerObject()
    {
        await using var server = await StartServer(_ls, "90s");
        var image = AddTask(47);
        var disc = AutomaticScenes.Disc(W, H);
        await server.PostAsync("/predict", LabelStudioBodies.Predict(image, LabelStudioBodies.KeyPoint(disc.MidX, disc.MidY, true, W, H, "Thing"), PolygonConfig, 47));

        var (status, json) = await server.PostAsync("/predict", LabelStudioBodies.Predict(image, null, PolygonConfig, 47));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var regions = json.RootElement.GetProperty("results")[0].GetProperty("result").EnumerateArray().ToList();
        Assert.That(regions.Select(r => r.GetProperty("type").GetString()), Is.All.EqualTo("polygonlabels"));
        Assert.That(regions.Select(r => r.GetProperty("value").GetProperty("polygonlabels")[0].GetString()), Is.All.EqualTo("Thing"));
        foreach (var (name, truth) in _scene.Objects)
        {
            var matching = regions.Count(r => Scenes.IoU(PolygonRaster.Fill([[.. r.GetProperty("value").GetProperty("points").EnumerateArray()
                .Select(p => (p[0].GetDouble() / 100 * W, p[1].GetDouble() / 100 * H))]], W, H), truth) >= 0.9);
            Assert.That(matching, Is.EqualTo(1), name);
        }
    }

    [Test]
    public async Task Predict_TaskOpenedWorkDoesNotFit_AnswersAtOnceAndPostsThePredictionOnce()
    {
        await using var server = await StartServer(_ls, "0");
        var automatic = server.App.Services.GetRequiredService<AutomaticPredictions>();
        var image = AddTask(42);

        var (status, json) = await server.PostAsync("/predict", Opened(image, 42));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(json.RootElement.GetProperty("results").GetArrayLength(), Is.Zero, "answered at once, empty");

        var posted = await _ls.WaitForPostedPredictionAsync(42, s_safety);
        Assert.That(posted, Is.Not.Null, "the prediction was posted to Label Studio");
        Assert.That(posted!.Task, Is.EqualTo(42));
        Assert.That(posted.Project, Is.EqualTo(3));
        Assert.That(posted.ModelVersion, Is.EqualTo(server.App.Services.GetRequiredService<SegmentationService>().ModelVersion));
        using (var result = JsonDocument.Parse(posted.ResultJson))
        {
            Assert.That(Matches(result.RootElement).Values, Is.All.EqualTo(1));
        }

        // The stand-in records the POST before it answers; the server counts it once the answer is back.
        await Traffic.WaitForAsync(() => Task.FromResult(automatic.Posted + automatic.Failed > 0), s_safety, "the server to count its post");

        // Opened again (Label Studio would not, the task now has a prediction; a second replica-free call must not repost).
        (status, json) = await server.PostAsync("/predict", Opened(image, 42));
        Assert.That(json.RootElement.GetProperty("results").GetArrayLength(), Is.Zero);
        Assert.That(automatic.Queued, Is.Zero, "not queued again");
        Assert.That(automatic.Posted, Is.EqualTo(1));
        Assert.That(_ls.Predictions.Count(p => p.Task == 42), Is.EqualTo(1));
    }

    [Test]
    public async Task Predict_RetrievePredictionsForTwoTasks_AnswersAtOnceAndPostsEach()
    {
        await using var server = await StartServer(_ls, "90s", pointsPerSide: "4");
        var a = AddTask(43);
        var b = AddTask(44);
        var body = LabelStudioBodies.Predict(a, null, LabelStudioSamples.BananaLabelConfig, 43).Replace(
            "\"predictions\":[]}]", $$"""
            "predictions":[]},{"id":44,"data":{"image":"{{b}}"},"annotations":[],"predictions":[]}]
            """.Trim(), StringComparison.Ordinal);

        var (status, json) = await server.PostAsync("/predict", body);

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("results").GetArrayLength(), Is.Zero, "Label Studio stores a batch answer only with one result per task");
        Assert.That(await _ls.WaitForPostedPredictionAsync(43, s_safety), Is.Not.Null);
        Assert.That(await _ls.WaitForPostedPredictionAsync(44, s_safety), Is.Not.Null);
    }

    [Test]
    public async Task Annotate_Endpoint_CreatesThenReportsExisting()
    {
        await using var server = await StartServer(_ls, "0", pointsPerSide: "4");
        AddTask(45);
        var body = $$$"""{"task":{"id":45,"data":{"image":"/data/upload/3/auto-45.png"}},"project":3,"label_config":{{{JsonSerializer.Serialize(LabelStudioSamples.BananaLabelConfig)}}}}""";

        var (status, json) = await server.PostAsync("/annotate", body);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("outcome").GetString(), Is.EqualTo("created"));
        Assert.That(json.RootElement.GetProperty("regions").GetInt32(), Is.GreaterThanOrEqualTo(3));

        (status, json) = await server.PostAsync("/annotate", body);
        Assert.That(json.RootElement.GetProperty("outcome").GetString(), Is.EqualTo("exists"));
        Assert.That(_ls.Predictions.Count(p => p.Task == 45), Is.EqualTo(1));
    }

    [Test]
    public async Task Annotate_TaskWithoutImage_422NamingTheDataKey()
    {
        await using var server = await StartServer(_ls, "0", pointsPerSide: "4");
        var body = $$$"""{"task":{"id":46,"data":{"text":"no image"}},"project":3,"label_config":{{{JsonSerializer.Serialize(LabelStudioSamples.BananaLabelConfig)}}}}""";

        var (status, json) = await server.PostAsync("/annotate", body);

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("data.image"));
    }
}
