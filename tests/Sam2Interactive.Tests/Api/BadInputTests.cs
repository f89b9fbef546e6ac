using System.Globalization;
using System.Net;
using System.Text;
using NUnit.Framework;
using Sam2Interactive.Testing;
using SkiaSharp;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// Everything a browser, a misconfigured Label Studio or an attacker can send to /predict, through real HTTP: each case gets
/// the documented status and a message saying what is wrong; afterwards the server is healthy and nothing was cached from it.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class BadInputTests
{
    private const int W = 640, H = 480;
    private const string Img = "/data/upload/2/scene.png";
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;
    private string _localRoot = "";

    [OneTimeSetUp]
    public async Task Start()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _ls.Files[Img] = Scenes.Create(W, H).Encoded;
        AddImages();
        _localRoot = Directory.CreateTempSubdirectory("sam2i-local-").FullName;
        Directory.CreateDirectory(Path.Combine(_localRoot, "dataset"));
        await File.WriteAllBytesAsync(Path.Combine(_localRoot, "dataset", "ok.png"), Scenes.Create(W, H).Encoded);
        await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(_localRoot)!, "secret.txt"), "secret");
        File.CreateSymbolicLink(Path.Combine(_localRoot, "dataset", "escape.png"), "/etc/passwd");
        _server = await TestServer.StartAsync(_ls, new Dictionary<string, string?>
        {
            ["LOCAL_FILES_DOCUMENT_ROOT"] = _localRoot,
            ["MAX_IMAGE_PIXELS"] = "50000000",
        });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
        Directory.Delete(_localRoot, true);
    }

    private void AddImages()
    {
        var scene = Scenes.Create(W, H, SKEncodedImageFormat.Jpeg).Encoded;
        _ls.Files["/data/upload/2/truncated.jpg"] = scene[..(scene.Length / 2)];
        _ls.Files["/data/upload/2/empty.png"] = [];
        _ls.Files["/data/upload/2/error.png"] = Encoding.UTF8.GetBytes("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>");
        _ls.Files["/data/upload/2/bomb.png"] = TestImages.PngHeaderOnly(30000, 30000);
        _ls.Files["/data/upload/2/scene.webp"] = Scenes.Create(W, H, SKEncodedImageFormat.Webp).Encoded;
        _ls.Files["/data/upload/2/gray.png"] = Scenes.Create(W, H, grayscale: true).Encoded;
        _ls.Files["/data/upload/2/tiff.tif"] = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        _ls.Files["/data/upload/2/bmp.bmp"] = Bmp(W, H);
        _ls.Files["/data/upload/2/anim.gif"] = TestImages.TwoFrameGif();
        _ls.Files["/data/upload/2/deep.png"] = Png16(W, H);
    }

    // A 16-bit-per-channel RGBA PNG (IHDR bit depth 16).
    private static byte[] Png16(int w, int h)
    {
        var samples = new ushort[w * h * 4];
        for (var i = 0; i < w * h; i++)
        {
            for (var c = 0; c < 3; c++) samples[i * 4 + c] = (ushort)((i * 37 + c * 9000) % 65536);
            samples[i * 4 + 3] = ushort.MaxValue;
        }
        return TestImages.EncodeRaw(samples, new SKImageInfo(w, h, SKColorType.Rgba16161616, SKAlphaType.Unpremul), SKEncodedImageFormat.Png);
    }

    // A 24-bit BMP of a grey image (Skia decodes BMP but does not encode it).
    private static byte[] Bmp(int w, int h)
    {
        var stride = (w * 3 + 3) & ~3;
        var data = new byte[54 + stride * h];
        void U32(int at, int v) => BitConverter.GetBytes(v).CopyTo(data, at);
        data[0] = (byte)'B'; data[1] = (byte)'M';
        U32(2, data.Length); U32(10, 54); U32(14, 40); U32(18, w); U32(22, h);
        data[26] = 1; data[28] = 24; U32(34, stride * h);
        Array.Fill(data, (byte)128, 54, stride * h);
        return data;
    }

    // Invariant culture: these numbers go into JSON.
    private static string Point(double x = 30, double y = 40, string extra = "", int w = W, int h = H) =>
        string.Create(CultureInfo.InvariantCulture, $$$"""{"from_name":"tag2","to_name":"image","type":"keypointlabels","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":0,"value":{"x":{{{x}}},"y":{{{y}}},"keypointlabels":["defect"]}{{{extra}}}}""");

    private static string Rect(double x, double y, double w, double h) =>
        string.Create(CultureInfo.InvariantCulture, $$$"""{"from_name":"tag3","to_name":"image","type":"rectanglelabels","original_width":{{{W}}},"original_height":{{{H}}},"image_rotation":0,"value":{"x":{{{x}}},"y":{{{y}}},"width":{{{w}}},"height":{{{h}}},"rotation":0,"rectanglelabels":["defect"]}}""");

    private static string Click(string image, string? items = null) => LabelStudioBodies.Predict(image, items ?? Point());

    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData C(string name, string body, int status, string message) => new TestCaseData(body, status, message).SetName("Predict_" + name);
        // Bodies.
        yield return C("MalformedJson", "{not json", 400, "not valid JSON");
        yield return C("TruncatedJson", """{"tasks":[{"id":1,"data":{"image":""", 400, "not valid JSON");
        yield return C("ArrayInsteadOfObject", "[]", 400, "not valid JSON");
        yield return C("TasksIsString", """{"tasks":"abc"}""", 400, "not valid JSON");
        yield return C("TasksIsNull", """{"tasks":null}""", 400, "tasks");
        yield return C("TasksMissing", """{"label_config":"<View/>"}""", 400, "tasks");
        yield return C("TasksEmpty", """{"tasks":[]}""", 400, "tasks");
        yield return C("EmptyBody", "", 400, "not valid JSON");
        yield return C("ContextResultNotAList", Click(Img).Replace("\"context\":{\"result\":[", "\"context\":{\"result\":{\"a\":[", StringComparison.Ordinal).Replace("]}}", "]}}}", StringComparison.Ordinal), 400, "not valid JSON");
        yield return C("TaskWithoutImageKey", Click(Img).Replace("\"image\":\"" + Img + "\"", "\"picture\":\"" + Img + "\"", StringComparison.Ordinal), 422, "has no image");
        yield return C("ImageValueIsNumber", Click(Img).Replace("\"" + Img + "\"", "42", StringComparison.Ordinal), 422, "has no image");
        yield return C("PercentNaN", Click(Img, Point(x: 1).Replace("\"x\":1", "\"x\":\"NaN\"", StringComparison.Ordinal)), 422, "x");
        yield return C("PercentInfinity", Click(Img, Point(x: 1).Replace("\"x\":1", "\"x\":\"Infinity\"", StringComparison.Ordinal)), 422, "x");
        yield return C("PercentNegative", Click(Img, Point(x: -5)), 422, "x");
        yield return C("PercentOver100", Click(Img, Point(y: 250)), 422, "y");
        yield return C("BareNaNToken", Click(Img, Point(x: 1).Replace("\"x\":1", "\"x\":NaN", StringComparison.Ordinal)), 400, "not valid JSON");
        yield return C("XIsString", Click(Img, Point(x: 1).Replace("\"x\":1", "\"x\":\"left\"", StringComparison.Ordinal)), 400, "not valid JSON");
        yield return C("PointWithoutX", Click(Img, Point(x: 1).Replace("\"x\":1,", "", StringComparison.Ordinal)), 422, "x");
        yield return C("ZeroSizeRectangle", Click(Img, Rect(10, 10, 0, 0)), 422, "width");
        yield return C("InvertedRectangle", Click(Img, Rect(50, 50, -20, -20)), 422, "width");
        yield return C("ThousandPoints", Click(Img, string.Join(",", Enumerable.Range(0, 1000).Select(i => Point(x: i % 100, y: i / 10 % 100)))), 422, "64");
        yield return C("OriginalWidthZero", Click(Img, Point(w: 0)), 422, "original_width");
        yield return C("OriginalWidthHuge", Click(Img, Point(w: 1_000_000, h: 1_000_000)), 422, "original_width");
        // Images.
        yield return C("ImageNotInLabelStudio", Click("/data/upload/2/missing.png"), 404, "not found");
        yield return C("ImageTruncatedJpeg", Click("/data/upload/2/truncated.jpg"), 422, "truncated or corrupt");
        yield return C("ImageZeroBytes", Click("/data/upload/2/empty.png"), 422, "empty");
        yield return C("ImageIsHtmlErrorPage", Click("/data/upload/2/error.png"), 422, "unsupported image format");
        yield return C("ImageDecompressionBomb", Click("/data/upload/2/bomb.png"), 413, "MAX_IMAGE_PIXELS");
        yield return C("ImageTiff", Click("/data/upload/2/tiff.tif"), 422, "unsupported image format");
        yield return C("LocalFilesDotDot", Click("/data/local-files/?d=../secret.txt"), 400, "LOCAL_FILES_DOCUMENT_ROOT");
        yield return C("LocalFilesAbsolute", Click("/data/local-files/?d=/etc/passwd"), 400, "LOCAL_FILES_DOCUMENT_ROOT");
        yield return C("LocalFilesSymlinkOut", Click("/data/local-files/?d=dataset/escape.png"), 400, "LOCAL_FILES_DOCUMENT_ROOT");
        yield return C("UnknownScheme", Click("ftp://example.com/a.png"), 400, "ftp");
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Predict_BadInput_ClearErrorAndServerHealthy(string body, int status, string message)
    {
        var cached = _server.Store.Count;

        var (actual, json) = await _server.PostAsync("/predict", body);

        Assert.That((int)actual, Is.EqualTo(status), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain(message).IgnoreCase);
        Assert.That((await _server.Http.GetAsync("/health")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(_server.Store.Count, Is.EqualTo(cached), "nothing was cached from a bad request");
    }

    public static IEnumerable<TestCaseData> EmptyResultCases()
    {
        TestCaseData C(string name, string body) => new TestCaseData(body).SetName("Predict_" + name);
        yield return C("LabelConfigMissing", Click(Img).Replace("\"label_config\":", "\"x_label_config\":", StringComparison.Ordinal));
        yield return C("LabelConfigNotXml", LabelStudioBodies.Predict(Img, Point(), "not <xml"));
        yield return C("LabelConfigWithoutBrushLabels", LabelStudioBodies.Predict(Img, Point(), "<View><Image name=\"image\" value=\"$image\"/><KeyPointLabels name=\"tag2\" toName=\"image\" smart=\"true\"><Label value=\"a\"/></KeyPointLabels></View>"));
        yield return C("FromNameOfMissingControl", Click(Img, Point().Replace("\"to_name\":\"image\"", "\"to_name\":\"other\"", StringComparison.Ordinal)));
        yield return C("UnknownItemType", Click(Img, Point().Replace("keypointlabels\",\"original", "polygonlabels\",\"original", StringComparison.Ordinal)));
    }

    [TestCaseSource(nameof(EmptyResultCases))]
    public async Task Predict_NothingToSegment_EmptyResults(string body)
    {
        var (status, json) = await _server.PostAsync("/predict", body);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("results").GetArrayLength(), Is.Zero);
    }

    public static IEnumerable<TestCaseData> SupportedOddCases()
    {
        TestCaseData C(string name, string image, string? items = null) => new TestCaseData(image, items).SetName("Predict_" + name);
        yield return C("WebP", "/data/upload/2/scene.webp");
        yield return C("Grayscale", "/data/upload/2/gray.png");
        yield return C("Bmp", "/data/upload/2/bmp.bmp");
        yield return C("AnimatedGif", "/data/upload/2/anim.gif");
        yield return C("Png16Bit", "/data/upload/2/deep.png");
        yield return C("LocalFileInsideRoot", "/data/local-files/?d=dataset/ok.png");
        yield return C("UnknownLabelMapsToFirstBrushLabel", Img, LabelStudioBodies.KeyPoint(100, 100, true, W, H, "no-such-label"));
        yield return C("IsPositiveAsString", Img, Point(extra: ",\"is_positive\":\"true\""));
    }

    [TestCaseSource(nameof(SupportedOddCases))]
    public async Task Predict_UnusualButValid_OneRegion(string image, string? items)
    {
        var (status, json) = await _server.PostAsync("/predict", Click(image, items));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("results")[0].GetProperty("result").GetArrayLength(), Is.EqualTo(1));
    }

    [Test]
    public async Task Predict_FiftyMegabyteBody_413()
    {
        var body = "{\"tasks\":[{\"id\":1,\"data\":{\"image\":\"" + new string('a', 50 << 20) + "\"}}]}";
        // Expect: 100-continue lets the server refuse from the Content-Length alone, before the client sends the body.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var response = await _server.Http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await _server.Http.GetAsync("/health")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Predict_NonUtf8Bytes_400()
    {
        // {"label_config":"<0xFF 0xFE>","tasks":[{"id":1}]}: invalid UTF-8 inside a string the server reads.
        var bytes = Encoding.ASCII.GetBytes("{\"label_config\":\"..\",\"tasks\":[{\"id\":1}]}");
        bytes[17] = 0xFF;
        bytes[18] = 0xFE;
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await _server.Http.PostAsync("/predict", content);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("not valid JSON"));
    }
}
