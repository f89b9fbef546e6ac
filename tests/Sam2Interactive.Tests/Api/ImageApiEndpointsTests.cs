using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;
using SkiaSharp;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// The HTTP API through real HTTP (Kestrel on loopback, stand-in models, the Label Studio stand-in for URL uploads and
/// /predict). Every encoding of every mask is decoded independently (PNG by Skia's libpng, COCO RLE by
/// <see cref="CocoRleReader"/>, brush RLE by the decoder the Label Studio tests use, polygons drawn back by
/// <see cref="PolygonRaster"/>) and compared with the mask the stand-in decoder gives for the same prompts on the same
/// embedding: identical, and IoU ≥ 0.97 for the simplified polygons.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ImageApiEndpointsTests
{
    private const int W = 640, H = 480;
    private const int MaxPrompts = 5;
    private const long MaxImageBytes = 2 << 20;
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;
    private HttpClient _http = null!;
    private Scene _scene = null!;
    private string _imageId = null!;
    private int _sceneCounter;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _server = await TestServer.StartAsync(_ls, new Dictionary<string, string?>
        {
            ["MAX_PROMPTS"] = MaxPrompts.ToString(CultureInfo.InvariantCulture),
            ["MAX_IMAGE_BYTES"] = MaxImageBytes.ToString(CultureInfo.InvariantCulture),
        });
        _http = _server.Http;
        _scene = Scenes.Create(W, H);
        var (status, json) = await Upload(_scene.Encoded);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        _imageId = json.RootElement.GetProperty("image_id").GetString()!;
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    /// <summary>A scene of its own size, so its bytes (and image_id) are new to the server.</summary>
    private Scene NewScene() => Scenes.Create(W + Interlocked.Increment(ref _sceneCounter), H);

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private async Task<(HttpStatusCode Status, JsonDocument Json)> Send(HttpRequestMessage request)
    {
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "{}" : text));
    }

    private Task<(HttpStatusCode Status, JsonDocument Json)> Upload(byte[] bytes, string query = "")
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "scene.png");
        return Send(new HttpRequestMessage(HttpMethod.Post, "/api/v1/images" + query) { Content = form });
    }

    private Task<(HttpStatusCode Status, JsonDocument Json)> Segment(string imageId, string body) =>
        Send(new HttpRequestMessage(HttpMethod.Post, $"/api/v1/images/{imageId}/segment") { Content = new StringContent(body, Encoding.UTF8, "application/json") });

    private static string Num(float v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Point(SKPoint p) => $"[{Num(p.X)},{Num(p.Y)}]";

    private static string Box(SKRect r, float pad = 6) => $"[{Num(r.Left - pad)},{Num(r.Top - pad)},{Num(r.Right + pad)},{Num(r.Bottom + pad)}]";

    private static PromptBox PromptBoxOf(SKRect r, float pad = 6) => new(r.Left - pad, r.Top - pad, r.Right + pad, r.Bottom + pad);

    /// <summary>The masks the stand-in decoder gives for these prompts on the server's own embedding of the scene.</summary>
    private async Task<byte[][]> ModelMasks(IReadOnlyList<Prompt> prompts)
    {
        using var embedding = await _server.Store.TryGetAsync(_imageId, EncodePriority.Click, CancellationToken.None);
        Assert.That(embedding, Is.Not.Null, "the fixture's image is held");
        var masks = _server.Decoder.PredictMany(embedding!, prompts, W, H);
        try
        {
            return masks.Select(m => m.Pixels.ToArray()).ToArray();
        }
        finally
        {
            foreach (var m in masks) m.Dispose();
        }
    }

    private static byte[] DecodePng(string base64)
    {
        var png = Convert.FromBase64String(base64);
        using var codec = SKCodec.Create(new SKMemoryStream(png));
        Assert.That(codec, Is.Not.Null, "not a PNG Skia can open");
        Assert.That((codec!.Info.Width, codec.Info.Height), Is.EqualTo((W, H)));
        using var bitmap = new SKBitmap(new SKImageInfo(W, H, SKColorType.Gray8, SKAlphaType.Opaque));
        Assert.That(codec.GetPixels(bitmap.Info, bitmap.GetPixels()), Is.EqualTo(SKCodecResult.Success));
        return bitmap.GetPixelSpan().ToArray();
    }

    private static byte[] DecodeBrush(JsonElement rle)
    {
        var rgba = BrushRle.Decode(rle.EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray());
        Assert.That(rgba, Has.Length.EqualTo(4 * W * H));
        return Enumerable.Range(0, W * H).Select(i => rgba[4 * i + 3]).ToArray();
    }

    private static bool[] Foreground(byte[] mask) => mask.Select(v => v != 0).ToArray();

    public static IEnumerable<TestCaseData> PromptCases()
    {
        var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
        var pink = Scenes.Centre(Scenes.PinkSquare(W, H));
        var blue = Scenes.BlueRect(W, H);
        var square = Scenes.PinkSquare(W, H);
        // The pink square is within the stand-in's tolerance of red: one click takes both, a negative click on pink separates them.
        yield return new TestCaseData($$"""{"points":[{{Point(disc)}}]""", new[] { new Prompt([new PromptPoint(disc.X, disc.Y, true)]) }, new[] { "red+pink" })
            .SetArgDisplayNames("point");
        yield return new TestCaseData($$"""{"points":[{{Point(disc)}},{{Point(pink)}}],"labels":[1,0]""",
                new[] { new Prompt([new PromptPoint(disc.X, disc.Y, true), new PromptPoint(pink.X, pink.Y, false)]) }, new[] { "red" })
            .SetArgDisplayNames("point+negative");
        yield return new TestCaseData($$"""{"boxes":[{{Box(blue)}}]""", new[] { new Prompt([], PromptBoxOf(blue)) }, new[] { "blue" })
            .SetArgDisplayNames("box");
        yield return new TestCaseData($$"""{"boxes":[{{Box(blue)}},{{Box(square)}}]""",
                new[] { new Prompt([], PromptBoxOf(blue)), new Prompt([], PromptBoxOf(square)) }, new[] { "blue", "pink" })
            .SetArgDisplayNames("two boxes");
    }

    [TestCaseSource(nameof(PromptCases))]
    public async Task Segment_Prompts_EveryEncodingDecodesToTheModelsMask(string promptJson, Prompt[] prompts, string[] objects)
    {
        var (status, json) = await Segment(_imageId, promptJson + ""","output":["png","coco_rle","polygons","ls_brush"]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var root = json.RootElement;
        Assert.That((root.GetProperty("image_id").GetString(), root.GetProperty("width").GetInt32(), root.GetProperty("height").GetInt32()), Is.EqualTo((_imageId, W, H)));
        var answered = root.GetProperty("objects").EnumerateArray().ToList();
        var expected = await ModelMasks(prompts);
        Assert.That(answered, Has.Count.EqualTo(expected.Length));
        for (var i = 0; i < expected.Length; i++)
        {
            var o = answered[i];
            var model = Foreground(expected[i]);
            var (area, box) = MaskGeometry.Measure(expected[i], W, H);
            var coco = o.GetProperty("coco_rle");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(Foreground(DecodePng(o.GetProperty("png").GetString()!)), Is.EqualTo(model), "png");
                Assert.That(coco.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { H, W }), "coco_rle.size is [h, w]");
                Assert.That(Foreground(CocoRleReader.Decode(coco.GetProperty("counts").GetString()!, H, W)), Is.EqualTo(model), "coco_rle");
                Assert.That(Foreground(DecodeBrush(o.GetProperty("ls_brush"))), Is.EqualTo(model), "ls_brush");
                Assert.That(o.GetProperty("area").GetInt64(), Is.EqualTo(area));
                Assert.That(o.GetProperty("bbox").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { box.X, box.Y, box.Width, box.Height }));
                Assert.That(o.GetProperty("score").GetDouble(), Is.InRange(0.0, 1.0));
                // Polygons are simplified outlines with holes filled: drawn back, they cover the model's mask up to IoU 0.97.
                var polygons = o.GetProperty("polygons").EnumerateArray()
                    .Select(p => (IReadOnlyList<(double X, double Y)>)p.EnumerateArray().Select(v => (v[0].GetDouble(), v[1].GetDouble())).ToList()).ToList();
                Assert.That(polygons, Is.Not.Empty, "polygons");
                Assert.That(PolygonRaster.IoU(PolygonRaster.Fill(polygons, W, H), expected[i]), Is.GreaterThanOrEqualTo(0.97), "polygons");
                // And the model's mask is the drawn object (the stand-in segments by colour).
                Assert.That(Scenes.IoU(expected[i], _scene.Union(objects[i].Split('+'))), Is.GreaterThanOrEqualTo(0.9));
            }
        }
        var timings = root.GetProperty("timings_ms");
        Assert.That(timings.GetProperty("total").GetDouble(), Is.GreaterThanOrEqualTo(timings.GetProperty("decode").GetDouble()));
    }

    [Test]
    public async Task Segment_NoOutputNamed_CocoRleOnly()
    {
        var (status, json) = await Segment(_imageId, $$"""{"points":[{{Point(Scenes.Centre(Scenes.BlueRect(W, H)))}}]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var o = json.RootElement.GetProperty("objects")[0];
        Assert.That(o.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "score", "bbox", "area", "coco_rle" }));
    }

    [Test]
    public async Task Segment_Multimask_BestThenTwoAlternativesByScore()
    {
        var (status, json) = await Segment(_imageId, $$"""{"points":[{{Point(Scenes.Centre(Scenes.RedDiscBounds(W, H)))}}],"multimask":true,"output":["coco_rle"]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var o = json.RootElement.GetProperty("objects")[0];
        var scores = new[] { o.GetProperty("score").GetDouble() }.Concat(o.GetProperty("alternatives").EnumerateArray().Select(a => a.GetProperty("score").GetDouble())).ToList();
        Assert.That(scores, Has.Count.EqualTo(3));
        Assert.That(scores, Is.Ordered.Descending);
        Assert.That(o.GetProperty("alternatives")[0].TryGetProperty("coco_rle", out _), Is.True);
    }

    [Test]
    public async Task PostImage_SameBytesTwiceThenServedToPredict_EncodedOnce()
    {
        var scene = NewScene();
        var before = await _server.MetricAsync("sam2_encoder_runs_total");

        var (s1, first) = await Upload(scene.Encoded);
        var (s2, second) = await Send(new HttpRequestMessage(HttpMethod.Post, "/api/v1/images") { Content = Raw(scene.Encoded, "image/png") });
        var path = _ls.AddUpload("13", "same.png", scene.Encoded);
        var disc = Scenes.Centre(Scenes.RedDiscBounds(scene.Width, scene.Height));
        var (s3, predicted) = await _server.PostAsync("/predict", LabelStudioBodies.Click(path, disc.X, disc.Y, scene.Width, scene.Height));

        Assert.That((s1, s2, s3), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK)), predicted.RootElement.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.RootElement.GetProperty("image_id").GetString(), Is.EqualTo(Sha256(scene.Encoded)));
            Assert.That(second.RootElement.GetProperty("image_id").GetString(), Is.EqualTo(Sha256(scene.Encoded)));
            Assert.That((first.RootElement.GetProperty("cached").GetBoolean(), second.RootElement.GetProperty("cached").GetBoolean()), Is.EqualTo((false, true)));
            Assert.That((first.RootElement.GetProperty("width").GetInt32(), first.RootElement.GetProperty("height").GetInt32()), Is.EqualTo((scene.Width, scene.Height)));
            Assert.That(await _server.MetricAsync("sam2_encoder_runs_total") - before, Is.EqualTo(1), "one encode for two uploads and a Label Studio click");
            Assert.That(Scenes.IoU(LabelStudioResults.FirstMaskOf(Encoding.UTF8.GetBytes(predicted.RootElement.GetRawText()), scene.Width, scene.Height),
                scene.Union("red", "pink")), Is.GreaterThanOrEqualTo(0.9));
        }
    }

    [TestCase(6)] // stored rotated: the viewer turns it 90° clockwise
    [TestCase(3)] // stored upside down
    public async Task Segment_ExifOrientedJpeg_SizeAndPromptsInDisplayPixels(int orientation)
    {
        var scene = Scenes.Create(W + 50 + orientation, H, SkiaSharp.SKEncodedImageFormat.Jpeg, exifOrientation: orientation);
        var (posted, image) = await Upload(scene.Encoded);
        Assert.That(posted, Is.EqualTo(HttpStatusCode.OK), image.RootElement.ToString());
        Assert.That((image.RootElement.GetProperty("width").GetInt32(), image.RootElement.GetProperty("height").GetInt32()), Is.EqualTo((scene.Width, scene.Height)));
        var id = image.RootElement.GetProperty("image_id").GetString()!;

        var (status, json) = await Segment(id, $$"""{"points":[{{Point(Scenes.Centre(Scenes.BlueRect(scene.Width, scene.Height)))}}],"output":["coco_rle"]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        var coco = json.RootElement.GetProperty("objects")[0].GetProperty("coco_rle");
        var mask = CocoRleReader.Decode(coco.GetProperty("counts").GetString()!, scene.Height, scene.Width);
        Assert.That(Scenes.IoU(mask, scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    public async Task PostImage_ImageFirstSeenByPredict_UploadIsCached()
    {
        var scene = NewScene();
        var path = _ls.AddUpload("13", "first-by-predict.png", scene.Encoded);
        var blue = Scenes.Centre(Scenes.BlueRect(scene.Width, scene.Height));
        var (s1, _) = await _server.PostAsync("/predict", LabelStudioBodies.Click(path, blue.X, blue.Y, scene.Width, scene.Height));
        var runs = _server.EncoderRuns;

        var (s2, uploaded) = await Upload(scene.Encoded);

        Assert.That((s1, s2), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK)));
        Assert.That((uploaded.RootElement.GetProperty("cached").GetBoolean(), _server.EncoderRuns - runs), Is.EqualTo((true, 0L)));
    }

    [Test]
    public async Task PostImage_WaitFalse_Answers202AndASegmentRightAfterWaitsForTheEncode()
    {
        var scene = NewScene();
        var (status, json) = await Upload(scene.Encoded, "?wait=false");

        Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted), json.RootElement.ToString());
        var id = json.RootElement.GetProperty("image_id").GetString()!;
        Assert.That((json.RootElement.GetProperty("width").GetInt32(), json.RootElement.GetProperty("cached").GetBoolean()), Is.EqualTo((scene.Width, false)));
        // The segment joins the running encode (single flight) instead of answering 404.
        var (segmented, answer) = await Segment(id, $$"""{"points":[{{Point(Scenes.Centre(Scenes.BlueRect(scene.Width, scene.Height)))}}]}""");
        Assert.That(segmented, Is.EqualTo(HttpStatusCode.OK), answer.RootElement.ToString());
        using var held = JsonDocument.Parse(await _http.GetStringAsync($"/api/v1/images/{id}"));
        Assert.That(held.RootElement.GetProperty("held").GetString(), Is.EqualTo("memory"));
        Assert.That(held.RootElement.GetProperty("bytes").GetInt64(), Is.EqualTo(16L << 20));
        Assert.That((held.RootElement.GetProperty("width").GetInt32(), held.RootElement.GetProperty("height").GetInt32()), Is.EqualTo((scene.Width, scene.Height)));
    }

    [Test]
    public async Task PostImage_Url_FetchedFromLabelStudioWithTheSameId()
    {
        var scene = NewScene();
        var path = _ls.AddUpload("13", "by-url.png", scene.Encoded);
        var url = new Uri(_ls.Url, path).ToString();

        var (status, json) = await Send(new HttpRequestMessage(HttpMethod.Post, "/api/v1/images")
        {
            Content = new StringContent($$"""{"url":{{LabelStudioBodies.Json(url)}}}""", Encoding.UTF8, "application/json"),
        });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("image_id").GetString(), Is.EqualTo(Sha256(scene.Encoded)));
    }

    [Test]
    public async Task GetImage_NeverPosted_HeldNo()
    {
        var id = Sha256("never posted"u8.ToArray());

        using var json = JsonDocument.Parse(await _http.GetStringAsync($"/api/v1/images/{id}"));

        Assert.That(json.RootElement.GetProperty("held").GetString(), Is.EqualTo("no"));
        Assert.That(json.RootElement.GetProperty("bytes").GetInt64(), Is.Zero);
    }

    [TestCase("0000000000000000000000000000000000000000000000000000000000000000")] // well formed, never posted
    [TestCase("not-a-sha256")]                                                      // malformed
    public async Task Segment_UnknownImageId_404SayingToPostItAgain(string id)
    {
        var (status, json) = await Segment(id, """{"points":[[10,10]]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(json.RootElement.GetProperty("status").GetInt32(), Is.EqualTo(404));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("post the image again"));
    }

    [TestCase("""{"points":[[700,10]]}""", "points[0]:", TestName = "Segment_PointRightOfTheImage_400")]
    [TestCase("""{"points":[[10,-1]]}""", "points[0]:", TestName = "Segment_PointAboveTheImage_400")]
    [TestCase("""{"boxes":[[10,10,641,100]]}""", "boxes[0]:", TestName = "Segment_BoxOutsideTheImage_400")]
    [TestCase("""{"boxes":[[100,10,50,100]]}""", "boxes[0]:", TestName = "Segment_BoxCornersSwapped_400")]
    [TestCase("""{}""", "points:", TestName = "Segment_NoPrompts_400")]
    [TestCase("""{"points":[],"boxes":[]}""", "points:", TestName = "Segment_EmptyPrompts_400")]
    [TestCase("""{"points":[[1,1],[2,2],[3,3],[4,4],[5,5],[6,6]]}""", "points:", TestName = "Segment_MorePointsThanMaxPrompts_400")]
    [TestCase("""{"boxes":[[1,1,2,2],[1,1,2,2],[1,1,2,2],[1,1,2,2],[1,1,2,2],[1,1,2,2]]}""", "boxes:", TestName = "Segment_MoreBoxesThanMaxPrompts_400")]
    [TestCase("""{"points":[[10,10]],"output":["png","svg"]}""", "output[1]:", TestName = "Segment_UnknownOutput_400")]
    [TestCase("""{"points":[[10,10]],"labels":[1,0]}""", "labels:", TestName = "Segment_LabelsNotOnePerPoint_400")]
    [TestCase("""{"points":[[10,10]],"labels":[2]}""", "labels[0]:", TestName = "Segment_LabelNotZeroOrOne_400")]
    [TestCase("""{"points":[[10]]}""", "points[0]:", TestName = "Segment_PointWithOneCoordinate_400")]
    [TestCase("""{"points":[[10,10]],"boxes":[[1,1,2,2],[3,3,4,4]]}""", "points:", TestName = "Segment_PointsWithSeveralBoxes_400")]
    [TestCase("""{"points":"x"}""", "not valid JSON", TestName = "Segment_WrongJsonShape_400")]
    public async Task Segment_BadRequest_400NamingTheField(string body, string detailStart)
    {
        var (status, json) = await Segment(_imageId, body);

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("status").GetInt32(), Is.EqualTo(400));
        var detail = json.RootElement.GetProperty("detail").GetString()!;
        Assert.That(detail, detailStart.EndsWith(':') ? Does.StartWith(detailStart) : Does.Contain(detailStart));
    }

    [Test]
    public async Task PostImage_LargerThanMaxImageBytes_413()
    {
        var (status, json) = await Send(new HttpRequestMessage(HttpMethod.Post, "/api/v1/images") { Content = Raw(new byte[MaxImageBytes + 1], "application/octet-stream") });

        Assert.That(status, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("MAX_IMAGE_BYTES"));
    }

    [Test]
    public async Task PostImage_DecompressionBomb_413FromTheHeaderAndNothingEncoded()
    {
        var runs = _server.EncoderRuns;

        var (status, json) = await Upload(TestImages.PngHeaderOnly(30000, 30000));

        Assert.That(status, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("MAX_IMAGE_PIXELS"));
        Assert.That(_server.EncoderRuns, Is.EqualTo(runs));
    }

    [Test]
    public async Task PostImage_NotAnImage_422AndNothingEncoded()
    {
        var runs = _server.EncoderRuns;

        var (status, json) = await Upload("<html>not an image</html>"u8.ToArray());

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity), json.RootElement.ToString());
        Assert.That(_server.EncoderRuns, Is.EqualTo(runs));
    }

    [Test]
    public async Task PostImage_TextBody_415NamingWhatToSend()
    {
        var (status, json) = await Send(new HttpRequestMessage(HttpMethod.Post, "/api/v1/images") { Content = new StringContent("hello") });

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain("multipart/form-data"));
    }

    [Test]
    public async Task PostImage_UrlOutsideThePolicy_403AndNotFetched()
    {
        // Loopback but not Label Studio's origin: refused by IMAGE_URL_POLICY before any byte is read.
        var (status, json) = await Send(new HttpRequestMessage(HttpMethod.Post, "/api/v1/images")
        {
            Content = new StringContent("""{"url":"http://127.0.0.2:9/x.png"}""", Encoding.UTF8, "application/json"),
        });

        Assert.That(status, Is.EqualTo(HttpStatusCode.Forbidden), json.RootElement.ToString());
    }

    [Test]
    public async Task Metrics_ApiRequests_LabelledByRoutePattern()
    {
        await Segment(_imageId, """{"points":[[10,10]]}""");
        await Segment(_imageId, """{}""");

        var text = await _http.GetStringAsync("/metrics");

        Assert.That(text, Does.Contain("sam2_http_requests_total{endpoint=\"/api/v1/images/{image_id}/segment\",code=\"200\"}"));
        Assert.That(text, Does.Contain("sam2_http_requests_total{endpoint=\"/api/v1/images/{image_id}/segment\",code=\"400\"}"));
        Assert.That(text, Does.Contain("sam2_http_requests_total{endpoint=\"/api/v1/images\",code=\"200\"}"));
        Assert.That(text, Does.Not.Contain(_imageId), "no image id in a label");
    }

    [Test]
    public async Task Info_Get_OutputsAndLimits()
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync("/api/v1/info"));

        Assert.That(json.RootElement.GetProperty("outputs").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "png", "coco_rle", "polygons", "ls_brush" }));
        Assert.That((json.RootElement.GetProperty("max_prompts").GetInt32(), json.RootElement.GetProperty("max_image_bytes").GetInt64()), Is.EqualTo((MaxPrompts, MaxImageBytes)));
    }

    private static ByteArrayContent Raw(byte[] bytes, string type)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }
}
