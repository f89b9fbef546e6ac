using System.Net;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// The real server (Kestrel on loopback, stand-in SAM2 models) against the Label Studio stand-in, with request bodies
/// shaped as Label Studio sends them. Masks come back as brush RLE, are decoded and compared with the drawn shapes.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LabelStudioEndpointsTests
{
    private const int W = 640, H = 480;
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;
    private HttpClient _http = null!;
    private Scene _scene = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _scene = Scenes.Create(W, H);
        _ls.Files["/data/upload/2/scene.png"] = _scene.Encoded;
        _server = await TestServer.StartAsync(_ls);
        _http = _server.Http;
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    private long EncoderRuns => _server.EncoderRuns;

    private static string KeyPoint(float px, float py, bool? positive, string label = "defect") => LabelStudioBodies.KeyPoint(px, py, positive, W, H, label);

    private static string Rectangle(SkiaSharp.SKRect r, float pad = 5) => LabelStudioBodies.Rectangle(r, W, H, pad);

    private static string Body(string image, string? items) => LabelStudioBodies.Predict(image, items);

    private Task<(HttpStatusCode Status, JsonDocument Json)> Post(string path, string body) => _server.PostAsync(path, body);

    [Test]
    public async Task Health_AfterWarmUp_UpWithModelAndDevice()
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync("/health"));
        Assert.That(json.RootElement.GetProperty("status").GetString(), Is.EqualTo("UP"));
        Assert.That(json.RootElement.GetProperty("model_class").GetString(), Is.EqualTo("Sam2Interactive"));
        Assert.That(json.RootElement.GetProperty("device").GetString(), Is.EqualTo("cpu"));
    }

    [Test]
    public async Task Setup_ExtraParamsAsString_ReturnsModelVersion()
    {
        var (status, json) = await Post("/setup", """{"project":"3.1746612998","schema":"<View/>","hostname":"http://localhost:8080","access_token":"x","extra_params":"{\"a\":1}"}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(json.RootElement.GetProperty("model_version").GetString(), Is.EqualTo("sam2.1_hiera_tiny"));
    }

    [Test]
    public async Task Versions_Get_ListsModelVersion()
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync("/versions"));
        Assert.That(json.RootElement.GetProperty("versions")[0].GetString(), Is.EqualTo("sam2.1_hiera_tiny"));
    }

    [Test]
    public async Task Predict_SmartKeypointsWithNegative_BrushRegionMatchesObject()
    {
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        var pink = Scenes.Centre(Scenes.PinkSquare(W, H));
        // The first point has no is_positive (positive), the second is an Alt+click.
        var (status, json) = await Post("/predict", Body("/data/upload/2/scene.png", KeyPoint(disc.X, disc.Y, null) + "," + KeyPoint(pink.X, pink.Y, false)));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var result = json.RootElement.GetProperty("results")[0];
        Assert.That(result.GetProperty("model_version").GetString(), Is.EqualTo("sam2.1_hiera_tiny"));
        var region = result.GetProperty("result")[0];
        Assert.That(region.GetProperty("from_name").GetString(), Is.EqualTo("tag"));
        Assert.That(region.GetProperty("to_name").GetString(), Is.EqualTo("image"));
        Assert.That(region.GetProperty("type").GetString(), Is.EqualTo("brushlabels"));
        Assert.That(region.GetProperty("original_width").GetInt32(), Is.EqualTo(W));
        Assert.That(region.GetProperty("value").GetProperty("brushlabels")[0].GetString(), Is.EqualTo("defect"));
        Assert.That(region.GetProperty("readonly").GetBoolean(), Is.False);
        var mask = LabelStudioResults.MaskOf(region, W, H);
        Assert.That(mask.Distinct().Order(), Is.EqualTo(new byte[] { 0, 255 }));
        Assert.That(Scenes.IoU(mask, _scene.Objects["red"]), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public async Task Predict_TwoSmartRectangles_TwoRegionsWithUniqueIds()
    {
        var (status, json) = await Post("/predict", Body("/data/upload/2/scene.png",
            Rectangle(Scenes.BlueRect(W, H)) + "," + Rectangle(Scenes.PinkSquare(W, H))));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var regions = json.RootElement.GetProperty("results")[0].GetProperty("result").EnumerateArray().ToList();
        Assert.That(regions, Has.Count.EqualTo(2));
        Assert.That(regions[0].GetProperty("id").GetString(), Is.Not.EqualTo(regions[1].GetProperty("id").GetString()));
        Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(regions[0], W, H), _scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
        Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(regions[1], W, H), _scene.Objects["pink"]), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public async Task Predict_RotatedSmartRectangle_UsesItsAxisAlignedBounds()
    {
        // A rectangle drawn with rotation 90° around its top-left corner (x, y): its bounding box spans x−h .. x, y .. y+w.
        var blue = Scenes.BlueRect(W, H);
        var item = LabelStudioBodies.RectanglePercent((blue.Right + 5) / W * 100, (blue.Top - 5) / H * 100, (blue.Height + 10) / W * 100, (blue.Width + 10) / H * 100,
            W, H, rotation: 90, id: "rot");

        var (status, json) = await Post("/predict", Body("/data/upload/2/scene.png", item));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(LabelStudioResults.FirstRegion(json.RootElement), W, H), _scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public async Task Predict_NoContextThenClick_EncodesAheadAndClickDoesNotEncode()
    {
        var scene = Scenes.Create(W, H, SkiaSharp.SKEncodedImageFormat.Jpeg);
        _ls.Files["/data/upload/2/opened.jpg"] = scene.Encoded;
        var before = EncoderRuns;

        var (status, json) = await Post("/predict", Body("/data/upload/2/opened.jpg", null));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(json.RootElement.GetProperty("results").GetArrayLength(), Is.Zero);
        for (var i = 0; i < 200 && EncoderRuns == before; i++) await Task.Delay(25);
        Assert.That(EncoderRuns, Is.EqualTo(before + 1), "the task-open call encoded the image in the background");

        var blue = Scenes.Centre(Scenes.BlueRect(W, H));
        (status, json) = await Post("/predict", Body("/data/upload/2/opened.jpg", KeyPoint(blue.X, blue.Y, true)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(EncoderRuns, Is.EqualTo(before + 1), "the click found the embedding ready");
        Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(LabelStudioResults.FirstRegion(json.RootElement), W, H), scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public async Task Webhook_TasksCreated_AnswersAtOnceAndPrefetches()
    {
        _ls.Files["/data/upload/2/imported.png"] = Scenes.Create(320, 240).Encoded;
        var before = EncoderRuns;
        var body = """{"action":"TASKS_CREATED","tasks":[{"id":31,"data":{"image":"/data/upload/2/imported.png"}}],"project":{"id":3}}""";

        var start = System.Diagnostics.Stopwatch.StartNew();
        var (status, _) = await Post("/webhook", body);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(start.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "Label Studio gives up after 1 s");
        for (var i = 0; i < 200 && EncoderRuns == before; i++) await Task.Delay(25);
        Assert.That(EncoderRuns, Is.EqualTo(before + 1));
    }

    [Test]
    public async Task Webhook_TaskImageOnLoopbackNotLabelStudio_IsNeverFetched()
    {
        _ls.StorageFiles["hook.png"] = Scenes.Create(320, 240).Encoded;
        _ls.Files["/data/upload/2/hook-ok.png"] = Scenes.Create(300, 200).Encoded;
        var before = EncoderRuns;
        var refused = $"http://127.0.0.1:{_ls.StorageUrl.Port}/public/hook.png";
        var body = LabelStudioBodies.Webhook((41, refused), (42, "/data/upload/2/hook-ok.png"));

        var (status, _) = await Post("/webhook", body);
        for (var i = 0; i < 200 && EncoderRuns == before; i++) await Task.Delay(25);
        await Task.Delay(200);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(EncoderRuns, Is.EqualTo(before + 1), "only the Label Studio image is encoded");
            Assert.That(_ls.StorageRequests.Select(r => r.Path), Has.None.Contains("hook.png"));
        }
    }

    [TestCase("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254 is a link-local address")]
    [TestCase("http://127.0.0.1:{port}/public/scene.png", "is a loopback address")]
    [TestCase("http://[::1]:{port}/public/scene.png", "is a loopback address")]
    public async Task Predict_TaskImageOnInternalAddress_403NamingAllowlist(string image, string expected)
    {
        _ls.StorageFiles["scene.png"] = _scene.Encoded;
        var url = image.Replace("{port}", _ls.StorageUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var (status, json) = await Post("/predict", Body(url, KeyPoint(10, 10, true)));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain(expected).And.EndsWith("add it to IMAGE_URL_ALLOWLIST if it is trusted."));
            Assert.That(_ls.StorageRequests.Select(r => r.Path), Has.None.Contains("scene.png"));
        }
    }

    [TestCase("{not json", HttpStatusCode.BadRequest)]                          // malformed JSON
    [TestCase("""{"tasks":[]}""", HttpStatusCode.BadRequest)]                    // empty tasks
    [TestCase("""{"label_config":"<View/>"}""", HttpStatusCode.BadRequest)]     // missing tasks
    public async Task Predict_BadBody_4xxWithMessageAndServerStaysUp(string body, HttpStatusCode expected)
    {
        var (status, json) = await Post("/predict", body);
        Assert.That(status, Is.EqualTo(expected));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Is.Not.Empty);
        Assert.That((await _http.GetAsync("/health")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Predict_ImageMissingInLabelStudio_404SayingWhere()
    {
        var (status, json) = await Post("/predict", Body("/data/upload/2/nope.png", KeyPoint(10, 10, true)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("not found"));
    }

    [Test]
    public async Task Predict_ImageIsHtml_422AndNothingCached()
    {
        _ls.Files["/data/upload/2/error.png"] = "<html><body>502 Bad Gateway</body></html>"u8.ToArray();
        var (status, json) = await Post("/predict", Body("/data/upload/2/error.png", KeyPoint(10, 10, true)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("unsupported image format"));

        // The file is fixed in Label Studio: the next click works (the failure was not cached).
        _ls.Files["/data/upload/2/error.png"] = _scene.Encoded;
        var blue = Scenes.Centre(Scenes.BlueRect(W, H));
        (status, _) = await Post("/predict", Body("/data/upload/2/error.png", KeyPoint(blue.X, blue.Y, true)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Predict_PercentOver100_422NamingTheField()
    {
        var item = KeyPoint(10, 10, true).Replace("\"x\":", "\"x\":250,\"ignored\":", StringComparison.Ordinal);
        var (status, json) = await Post("/predict", Body("/data/upload/2/scene.png", item));
        Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("x"));
    }

    /// <summary>Metric names and labels are an interface (dashboards read them): exactly these families, none renamed.</summary>
    [Test]
    public async Task Metrics_AfterAClick_ExactlyTheDocumentedFamilies()
    {
        var (status, _) = await Post("/predict", Body("/data/upload/2/scene.png", KeyPoint(Scenes.Centre(Scenes.RedDiscBounds(W, H)).X, Scenes.Centre(Scenes.RedDiscBounds(W, H)).Y, true)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        await _http.GetStringAsync("/health");

        var text = await _http.GetStringAsync("/metrics");

        var families = text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2] + " " + l.Split(' ')[3]).ToArray();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(families, Is.EquivalentTo(new[]
            {
                "sam2_encoder_runs_total counter", "sam2_decoder_runs_total counter", "sam2_cache_lookups_total counter",
                "sam2_singleflight_waits_total counter", "sam2_prefetch_queue_depth gauge", "sam2_prefetch_dropped_total counter",
                "sam2_prefetch_queue_capacity gauge", "sam2_prefetch_active gauge", "sam2_prefetch_completed_total counter", "sam2_prefetch_failed_total counter",
                "sam2_stage_seconds histogram", "sam2_click_seconds histogram", "sam2_http_requests_total counter", "sam2_http_request_seconds histogram",
            }));
            Assert.That(text, Does.Contain("sam2_http_requests_total{endpoint=\"/health\",code=\"200\"} "));
            Assert.That(text, Does.Contain("sam2_cache_lookups_total{tier=\"memory\",result=\"hit\"} ").Or.Contain("sam2_cache_lookups_total{tier=\"memory\",result=\"miss\"} "));
            foreach (var stage in new[] { "fetch", "image_decode", "encode", "decode", "postprocess", "rle" })
                Assert.That(text, Does.Contain($"sam2_stage_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}} "), stage);
            Assert.That(text, Does.Contain("sam2_click_seconds_count "));
            Assert.That(text, Does.Contain("sam2_prefetch_dropped_total 0"));
        }
    }

    /// <summary>Each click counts its own decoder runs: under concurrency the total is exact (it counted others' runs before).</summary>
    [Test]
    public async Task Metrics_EightConcurrentClicks_DecoderRunsCountedExactly()
    {
        // Warm the embedding first, so the eight clicks are pure decoder work.
        var body = Body("/data/upload/2/scene.png", KeyPoint(Scenes.Centre(Scenes.RedDiscBounds(W, H)).X, Scenes.Centre(Scenes.RedDiscBounds(W, H)).Y, true));
        Assert.That((await Post("/predict", body)).Status, Is.EqualTo(HttpStatusCode.OK));
        var before = await _server.MetricAsync("sam2_decoder_runs_total");

        var clicks = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Post("/predict", body)));

        Assert.That(clicks.Select(c => c.Status), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(await _server.MetricAsync("sam2_decoder_runs_total") - before, Is.EqualTo(8));
    }

    [Test]
    public async Task Health_Ready_ReportsEachSessionsProvider()
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync("/health"));
        var providers = json.RootElement.GetProperty("providers");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(providers.GetProperty("encoder").GetString(), Is.EqualTo("cpu"));
            Assert.That(providers.GetProperty("decoder").GetString(), Is.EqualTo("cpu"));
            Assert.That(json.RootElement.GetProperty("device").GetString(), Is.EqualTo("cpu"));
        }
    }
}
