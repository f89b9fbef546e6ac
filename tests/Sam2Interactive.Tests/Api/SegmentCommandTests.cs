using System.Globalization;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Api.Cli;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using SkiaSharp;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
[NonParallelizable] // redirects Console.Out
public sealed class SegmentCommandTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = Directory.CreateTempSubdirectory("sam2i-segment-").FullName;

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, true);

    private async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            var exit = await CommandLine.RunAsync(args);
            return (exit, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    // Coordinates are fractional (0.62 × 480 = 297.6): under a comma-decimal culture they must still go out as "297.6".
    [SetCulture("de-DE")]
    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OnnxCommunity)]
    [TestCase(StandInFormat.OrigImSizeInt32)]
    [TestCase(StandInFormat.OrigImSizeInt64)]
    public async Task Segment_TwoBoxesWithJson_WritesUnionPngAndTimings(StandInFormat format)
    {
        var scene = Scenes.Create(640, 480);
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, scene.Encoded);
        var options = StandInModelSet.Options(format);
        var blue = Scenes.BlueRect(640, 480);
        var pink = Scenes.PinkSquare(640, 480);
        var outPath = Path.Combine(_dir, "mask.png");

        var (exit, stdout, stderr) = await Run("segment", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image,
            "--box", string.Create(CultureInfo.InvariantCulture, $"{blue.Left - 5},{blue.Top - 5},{blue.Right + 5},{blue.Bottom + 5}"),
            "--box", string.Create(CultureInfo.InvariantCulture, $"{pink.Left - 5},{pink.Top - 5},{pink.Right + 5},{pink.Bottom + 5}"),
            "--out", outPath, "--json");

        Assert.That(exit, Is.Zero, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.That(root.GetProperty("width").GetInt32(), Is.EqualTo(640));
        Assert.That(root.GetProperty("height").GetInt32(), Is.EqualTo(480));
        Assert.That(root.GetProperty("score").GetSingle(), Is.EqualTo(0.93f).Within(1e-5));
        Assert.That(root.GetProperty("encode_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("decode_ms").GetDouble(), Is.GreaterThan(0));

        using var png = SKBitmap.Decode(outPath);
        Assert.That((png.Width, png.Height, png.ColorType), Is.EqualTo((640, 480, SKColorType.Gray8)));
        var pixels = png.GetPixelSpan();
        Assert.That(pixels.ToArray().Distinct().Order(), Is.EqualTo(new byte[] { 0, 255 }));
        Assert.That(Scenes.IoU(pixels, scene.Union("blue", "pink")), Is.GreaterThanOrEqualTo(0.9));
    }

    [Test]
    [SetCulture("de-DE")]
    public async Task Segment_ModelDirAndPoints_UsesDirectoryLayout()
    {
        var scene = Scenes.Create(480, 640);
        var image = Path.Combine(_dir, "scene.jpg");
        await File.WriteAllBytesAsync(image, Scenes.Create(480, 640, SKEncodedImageFormat.Jpeg).Encoded);
        var disc = Scenes.Centre(Scenes.RedDiscBounds(480, 640));
        var pink = Scenes.Centre(Scenes.PinkSquare(480, 640));
        var outPath = Path.Combine(_dir, "m.png");

        var (exit, _, stderr) = await Run("segment", "--model-dir", StandInModelSet.Directory(StandInFormat.SamExporter), "--model", StandInModels.DefaultName,
            "--image", image, "--point", string.Create(CultureInfo.InvariantCulture, $"{disc.X},{disc.Y}"),
            "--negative", string.Create(CultureInfo.InvariantCulture, $"{pink.X},{pink.Y}"), "--out", outPath);

        Assert.That(exit, Is.Zero, stderr);
        using var png = SKBitmap.Decode(outPath);
        Assert.That(Scenes.IoU(png.GetPixelSpan(), scene.Objects["red"]), Is.GreaterThanOrEqualTo(0.9));
    }

    // Under a comma-decimal culture the polygons' coordinates must still be JSON numbers.
    [Test]
    [SetCulture("de-DE")]
    public async Task Segment_Polygons_PrintsPixelPolygonsThatDrawBackTheMask()
    {
        var scene = Scenes.Create(640, 480);
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, scene.Encoded);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);
        var blue = Scenes.BlueRect(640, 480);
        var pink = Scenes.PinkSquare(640, 480);
        var outPath = Path.Combine(_dir, "mask.png");

        // No --json: --polygons prints the JSON with its "polygons".
        var (exit, stdout, stderr) = await Run("segment", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image,
            "--box", string.Create(CultureInfo.InvariantCulture, $"{blue.Left - 5},{blue.Top - 5},{blue.Right + 5},{blue.Bottom + 5}"),
            "--box", string.Create(CultureInfo.InvariantCulture, $"{pink.Left - 5},{pink.Top - 5},{pink.Right + 5},{pink.Bottom + 5}"),
            "--out", outPath, "--polygons");

        Assert.That(exit, Is.Zero, stderr);
        using var json = JsonDocument.Parse(stdout);
        var polygons = json.RootElement.GetProperty("polygons").EnumerateArray()
            .Select(p => (IReadOnlyList<(double X, double Y)>)[.. p.EnumerateArray().Select(q => (q[0].GetDouble(), q[1].GetDouble()))]).ToList();
        using var png = SKBitmap.Decode(outPath);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(polygons, Has.Count.EqualTo(2), "the union of two separate objects");
            Assert.That(polygons.SelectMany(p => p).All(q => q.X is >= 0 and <= 640 && q.Y is >= 0 and <= 480), Is.True, "pixels, not percent");
            Assert.That(PolygonRaster.IoU(PolygonRaster.Fill(polygons, 640, 480), png.GetPixelSpan()), Is.GreaterThanOrEqualTo(0.98));
        }
    }

    [Test]
    public async Task Segment_JsonWithoutPolygons_HasNoPolygonsMember()
    {
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, Scenes.Create(320, 240).Encoded);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);

        var (exit, stdout, stderr) = await Run("segment", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image,
            "--point", "100,100", "--out", Path.Combine(_dir, "m.png"), "--json");

        Assert.That(exit, Is.Zero, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.That(json.RootElement.TryGetProperty("polygons", out _), Is.False);
    }

    [TestCase("--point", "12", "is not x,y")]
    [TestCase("--box", "1,2,3", "is not x0,y0,x1,y1")]
    [TestCase("--point", "NaN,3", "is not x,y")]
    public async Task Segment_BadCoordinates_Exit2WithMessage(string option, string value, string message)
    {
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, Scenes.Create(64, 64).Encoded);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);

        var (exit, _, stderr) = await Run("segment", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image, option, value, "--out", Path.Combine(_dir, "x.png"));

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(message));
    }

    [Test]
    public async Task Segment_MissingModel_Exit2NamingModelsPull()
    {
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, Scenes.Create(64, 64).Encoded);

        var (exit, _, stderr) = await Run("segment", "--model-dir", _dir, "--image", image, "--point", "3,3", "--out", Path.Combine(_dir, "x.png"));

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("models pull"));
    }

    /// <summary>The command reads the server's settings model: MAX_IMAGE_PIXELS applies (it was ignored before), and an
    /// invalid setting gives the server's message.</summary>
    [TestCase("MAX_IMAGE_PIXELS", "1000", "above MAX_IMAGE_PIXELS=1000")]
    [TestCase("THREADS", "many", "THREADS must be a whole number from 0 to 1024, not 'many'.")]
    public async Task Segment_EnvironmentSetting_Honoured(string key, string value, string expected)
    {
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, Scenes.Create(64, 64).Encoded);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);

        var (exit, _, stderr) = await WithEnvironment(key, value, () =>
            Run("segment", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image, "--point", "3,3", "--out", Path.Combine(_dir, "x.png")));

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(expected));
    }

    private static async Task<T> WithEnvironment<T>(string key, string value, Func<Task<T>> action)
    {
        var old = Environment.GetEnvironmentVariable(key);
        Environment.SetEnvironmentVariable(key, value);
        try
        {
            return await action();
        }
        finally
        {
            Environment.SetEnvironmentVariable(key, old);
        }
    }
}
