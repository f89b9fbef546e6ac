using System.Text.Json;
using NUnit.Framework;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// The playground in a real browser (headless Chromium) against the real server: upload, wait for the page's ready event,
/// click, negative click, new object, box, and the Label Studio JSON download; the overlay canvas's pixels are compared
/// with the drawn scene. Waits on the page's events (sam2:ready, sam2:mask, sam2:download), never on the clock. A
/// screenshot goes to the test results.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PlaygroundBrowserTests
{
    private const int W = 640, H = 480;
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _server = await TestServer.StartAsync(_ls);
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    /// <summary>Waits until the page's counter <paramref name="counter"/> is above <paramref name="above"/> (its event fired).</summary>
    private static long WaitFor(IWebDriver driver, string counter, long above)
    {
        var result = ((IJavaScriptExecutor)driver).ExecuteAsyncScript("""
            const [name, above, done] = arguments;
            const value = () => (window.sam2 ? window.sam2[name] : 0);
            if (value() > above) { done(value()); return; }
            const event = { readyCount: "sam2:ready", maskCount: "sam2:mask", downloadCount: "sam2:download" }[name];
            document.addEventListener(event, () => done(value()), { once: true });
            document.addEventListener("sam2:error", (e) => done("error: " + e.detail.message), { once: true });
            """, counter, above);
        if (result is string error) Assert.Fail("the page reported " + error);
        return Convert.ToInt64(result, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Writes the last mask's decode time and prompt-to-drawn time to the test output (measured, not asserted).</summary>
    private static void LogLatency(IWebDriver driver, string what)
    {
        var mask = (IReadOnlyDictionary<string, object>?)((IJavaScriptExecutor)driver).ExecuteScript("return window.sam2.lastMask;");
        TestContext.Out.WriteLine($"{what}: decode {mask?["decodeMs"]} ms on the server, drawn {mask?["shownMs"]} ms after the prompt");
    }

    /// <summary>The overlay canvas's alpha channel, W×H bytes.</summary>
    private static byte[] OverlayAlpha(IWebDriver driver)
    {
        var base64 = (string?)((IJavaScriptExecutor)driver).ExecuteScript("""
            const c = document.getElementById("overlay");
            const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let s = "";
            for (let i = 3; i < px.length; i += 4) s += String.fromCharCode(px[i]);
            return btoa(s);
            """);
        return Convert.FromBase64String(base64 ?? throw new InvalidOperationException("the page has no overlay canvas"));
    }

    /// <summary>Viewport coordinates of image pixel (x, y) on the prompt canvas (the page may scale the image).</summary>
    private static (int X, int Y) OnScreen(IWebDriver driver, float x, float y)
    {
        var rect = (IReadOnlyDictionary<string, object>?)((IJavaScriptExecutor)driver).ExecuteScript("""
            const r = document.getElementById("marks").getBoundingClientRect();
            return { left: r.left, top: r.top, width: r.width, height: r.height };
            """);
        double D(string k) => Convert.ToDouble(rect![k], System.Globalization.CultureInfo.InvariantCulture);
        return ((int)Math.Round(D("left") + x * D("width") / W), (int)Math.Round(D("top") + y * D("height") / H));
    }

    private static void Click(IWebDriver driver, float x, float y, bool negative = false)
    {
        var (sx, sy) = OnScreen(driver, x, y);
        var actions = new Actions(driver).MoveToLocation(sx, sy);
        (negative ? actions.ContextClick() : actions.Click()).Perform();
    }

    [Test]
    public void Playground_UploadClickNegativeBoxAndDownload_OverlayAndLabelStudioJsonMatchTheObjects()
    {
        var scene = Scenes.Create(W, H);
        var file = Path.Combine(Path.GetTempPath(), $"sam2i-playground-{Environment.ProcessId}.png");
        File.WriteAllBytes(file, scene.Encoded);
        using var chromium = new HeadlessChromium();
        var driver = chromium.Driver;
        try
        {
            driver.Navigate().GoToUrl(_server.Url + "/playground");
            Assert.That(new Uri(driver.Url).AbsolutePath, Is.EqualTo("/playground/"), "/playground redirects to the page's folder");

            driver.FindElement(By.Id("file")).SendKeys(file);
            WaitFor(driver, "readyCount", 0);
            Assert.That(driver.FindElement(By.TagName("body")).GetAttribute("data-state"), Is.EqualTo("ready"));

            // A click inside the red disc: the stand-in also takes the pink square (its colour is within tolerance).
            var disc = Scenes.Centre(Scenes.RedDiscBounds(W, H));
            Click(driver, disc.X, disc.Y);
            var masks = WaitFor(driver, "maskCount", 0);
            LogLatency(driver, "click");
            var overlay = OverlayAlpha(driver);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(overlay, Has.Length.EqualTo(W * H));
                Assert.That(Scenes.IoU(overlay, scene.Union("red", "pink")), Is.GreaterThanOrEqualTo(0.9), "the mask covers the object");
                Assert.That(Covered(overlay, Background(scene)), Is.LessThan(0.01), "and not the background");
            }

            // A negative (right) click on the pink square removes it.
            var pink = Scenes.Centre(Scenes.PinkSquare(W, H));
            Click(driver, pink.X, pink.Y, negative: true);
            masks = WaitFor(driver, "maskCount", masks);
            LogLatency(driver, "negative click");
            overlay = OverlayAlpha(driver);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(Scenes.IoU(overlay, scene.Objects["red"]), Is.GreaterThanOrEqualTo(0.9));
                Assert.That(Covered(overlay, scene.Objects["pink"]), Is.LessThan(0.01), "the negative click removed the pink square");
            }

            // Keep the disc, then drag a box around the blue rectangle: a second object.
            driver.FindElement(By.Id("new-object")).Click();
            var blue = Scenes.BlueRect(W, H);
            var (x0, y0) = OnScreen(driver, blue.Left - 6, blue.Top - 6);
            var (x1, y1) = OnScreen(driver, blue.Right + 6, blue.Bottom + 6);
            new Actions(driver).MoveToLocation(x0, y0).ClickAndHold().MoveToLocation((x0 + x1) / 2, (y0 + y1) / 2).MoveToLocation(x1, y1).Release().Perform();
            WaitFor(driver, "maskCount", masks);
            LogLatency(driver, "box");
            overlay = OverlayAlpha(driver);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(Scenes.IoU(overlay, scene.Union("red", "blue")), Is.GreaterThanOrEqualTo(0.9), "the kept disc and the boxed rectangle");
                Assert.That(Covered(overlay, Background(scene)), Is.LessThan(0.01));
            }
            // The outline toggle (the server has polygons) asks for the current object's polygons and draws them.
            Assert.That(driver.FindElement(By.Id("outline-toggle")).Displayed, Is.True);
            var before = (long)((IJavaScriptExecutor)driver).ExecuteScript("return window.sam2.maskCount;")!;
            driver.FindElement(By.Id("outline")).Click();
            WaitFor(driver, "maskCount", before);
            var status = driver.FindElement(By.Id("status-text")).Text;
            Assert.That(status, Does.Match(@"Score \d\.\d{3} · decode \d+\.\d ms"), "score and decode time are shown");

            // The current object (the box) as a Label Studio prediction.
            driver.FindElement(By.Id("download-ls")).Click();
            WaitFor(driver, "downloadCount", 0);
            var downloaded = WaitForDownload(chromium.Downloads, "sam2i-playground-*-label-studio.json");
            using var prediction = JsonDocument.Parse(File.ReadAllText(downloaded.FullName));
            var items = prediction.RootElement.GetProperty("result").EnumerateArray().ToList();
            var brush = items.Single(i => i.GetProperty("type").GetString() == "brushlabels");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(prediction.RootElement.GetProperty("model_version").GetString(), Is.EqualTo("sam2.1_hiera_tiny"));
                Assert.That((brush.GetProperty("from_name").GetString(), brush.GetProperty("to_name").GetString()), Is.EqualTo(("tag", "image")));
                Assert.That((brush.GetProperty("original_width").GetInt32(), brush.GetProperty("original_height").GetInt32()), Is.EqualTo((W, H)));
                Assert.That(brush.GetProperty("value").GetProperty("format").GetString(), Is.EqualTo("rle"));
                Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(brush, W, H), scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9), "the brush RLE is the boxed rectangle");
                var polygon = items.Single(i => i.GetProperty("type").GetString() == "polygonlabels");
                Assert.That(polygon.GetProperty("value").GetProperty("closed").GetBoolean(), Is.True);
                var points = polygon.GetProperty("value").GetProperty("points").EnumerateArray()
                    .Select(p => (p[0].GetDouble() * W / 100, p[1].GetDouble() * H / 100)).ToList();
                Assert.That(Scenes.IoU(PolygonRaster.Fill([points], W, H), scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9), "the polygon (percent) is the rectangle");
            }
        }
        finally
        {
            Screenshot(driver);
            File.Delete(file);
        }
    }

    private static bool[] Background(Scene scene)
    {
        var objects = scene.Union("red", "pink", "blue");
        return objects.Select(o => !o).ToArray();
    }

    /// <summary>The fraction of <paramref name="region"/>'s pixels the overlay covers (alpha above 0).</summary>
    private static double Covered(byte[] overlay, bool[] region)
    {
        long inside = 0, covered = 0;
        for (var i = 0; i < region.Length; i++)
        {
            if (!region[i]) continue;
            inside++;
            if (overlay[i] != 0) covered++;
        }
        return inside == 0 ? 0 : (double)covered / inside;
    }

    /// <summary>The finished download (Chromium writes *.crdownload and renames it when done).</summary>
    private static FileInfo WaitForDownload(DirectoryInfo folder, string pattern)
    {
        using var renamed = new FileSystemWatcher(folder.FullName) { EnableRaisingEvents = true };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (folder.GetFiles(pattern).FirstOrDefault() is { } done) return done;
            if (DateTime.UtcNow > deadline) Assert.Fail($"no {pattern} in {folder.FullName} after 60 s: {string.Join(", ", folder.GetFiles().Select(f => f.Name))}");
            renamed.WaitForChanged(WatcherChangeTypes.Created | WatcherChangeTypes.Renamed | WatcherChangeTypes.Changed, 1000);
        }
    }

    private static void Screenshot(IWebDriver driver)
    {
        var folder = Directory.CreateDirectory(Path.Combine(TestContext.CurrentContext.WorkDirectory, "test-results"));
        var path = Path.Combine(folder.FullName, "playground.png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        TestContext.AddTestAttachment(path, "The playground at the end of the browser test");
    }
}
