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

    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OnnxCommunity)]
    public async Task SegmentAuto_DefaultFilters_EachObjectOnceInPngAndJsonWithSam2Fields(StandInFormat format)
    {
        var scene = AutomaticScenes.Create(640, 480);
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, scene.Encoded);
        var options = StandInModelSet.Options(format);
        var outPath = Path.Combine(_dir, "masks.png");

        var (exit, stdout, stderr) = await Run("segment", "--auto", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image,
            "--out", outPath, "--json");

        Assert.That(exit, Is.Zero, stderr);
        using var summary = JsonDocument.Parse(stdout);
        Assert.That(summary.RootElement.GetProperty("prompts").GetInt64(), Is.EqualTo(32 * 32), "SAM2's default points_per_side");
        using var records = JsonDocument.Parse(await File.ReadAllTextAsync(Path.ChangeExtension(outPath, ".json")));
        var list = records.RootElement.EnumerateArray().ToList();
        Assert.That(list, Has.Count.EqualTo(summary.RootElement.GetProperty("masks").GetInt32()));
        Assert.That(list[0].EnumerateObject().Select(p => p.Name),
            Is.EqualTo(new[] { "segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box" }), "SAM2's record, in its order");

        var masks = list.Select(r => ColumnMajor(r.GetProperty("segmentation"), 640, 480)).ToList();
        foreach (var (name, truth) in scene.Objects)
        {
            Assert.That(masks.Count(m => Scenes.IoU(m, truth) >= 0.9), Is.EqualTo(1), name);
        }
        for (var i = 0; i < list.Count; i++)
        {
            Assert.That(list[i].GetProperty("area").GetInt64(), Is.EqualTo(masks[i].Count(b => b != 0)));
            Assert.That(list[i].GetProperty("crop_box").EnumerateArray().Select(v => v.GetInt32()), Is.EqualTo(new[] { 0, 0, 640, 480 }));
        }

        // The PNG colours each mask: every object's pixels are non-black.
        using var png = SKBitmap.Decode(outPath);
        Assert.That((png.Width, png.Height), Is.EqualTo((640, 480)));
        var disc = AutomaticScenes.Disc(640, 480);
        Assert.That(png.GetPixel((int)disc.MidX, (int)disc.MidY), Is.Not.EqualTo(SKColors.Black));
    }

    [Test]
    public async Task SegmentAuto_PredIouThreshAboveEveryScore_NoMasks()
    {
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, AutomaticScenes.Create(160, 120).Encoded);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);
        var json = Path.Combine(_dir, "list.json");

        var (exit, _, stderr) = await Run("segment", "--auto", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image,
            "--out", Path.Combine(_dir, "m.png"), "--masks-json", json, "--points-per-side", "4", "--pred-iou-thresh", "0.95");

        Assert.That(exit, Is.Zero, stderr);
        Assert.That(await File.ReadAllTextAsync(json), Is.EqualTo("[]"));
    }

    [Test]
    public async Task SegmentAuto_BadParameter_Exit2NamingTheSetting()
    {
        var image = Path.Combine(_dir, "scene.png");
        await File.WriteAllBytesAsync(image, AutomaticScenes.Create(64, 64).Encoded);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);

        var (exit, _, stderr) = await Run("segment", "--auto", "--encoder", options.EncoderPath!, "--decoder", options.DecoderPath!, "--image", image,
            "--out", Path.Combine(_dir, "m.png"), "--box-nms-thresh", "1.5");

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("AUTO_BOX_NMS_THRESH must be a number from 0 to 1, not '1.5'"));
    }

    /// <summary>SAM2's uncompressed RLE (column-major counts starting with background) back to a row-major mask.</summary>
    private static byte[] ColumnMajor(JsonElement rle, int width, int height)
    {
        Assert.That(rle.GetProperty("size").EnumerateArray().Select(v => v.GetInt32()), Is.EqualTo(new[] { height, width }));
        var mask = new byte[width * height];
        long position = 0;
        var on = false;
        foreach (var count in rle.GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()))
        {
            for (var k = 0L; k < count; k++, position++)
            {
                if (on) mask[(int)(position % height) * width + (int)(position / height)] = 255;
            }
            on = !on;
        }
        Assert.That(position, Is.EqualTo((long)width * height));
        return mask;
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
