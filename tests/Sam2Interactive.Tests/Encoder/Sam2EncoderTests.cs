using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class Sam2EncoderTests : EmbeddingLeakCheck
{
    [TestCase(StandInFormat.SamExporter, "samexporter")]
    [TestCase(StandInFormat.OnnxCommunity, "onnx-community")]
    [TestCase(StandInFormat.OrigImSizeInt32, "samexporter")]
    public void Constructor_StandInExport_DetectsFormatByNames(StandInFormat format, string expected)
    {
        using var encoder = StandInModelSet.CreateEncoder(format);
        Assert.That(encoder.Format, Is.EqualTo(expected));
    }

    [Test]
    public void EncodeImage_Scene_CountsOneRunRecordsItsStagesAndCarriesOriginalSize()
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = meters.GetRequiredService<IMeterFactory>();
        using var stages = new StageTimings(factory);
        var options = StandInModelSet.Options(StandInFormat.SamExporter);
        using var encoder = new Sam2Encoder(options.EncoderPath!, options, NullLogger.Instance, new EncoderMetrics(factory));
        var scene = Scenes.Create(333, 777);

        using var embedding = encoder.EncodeImage(scene.Encoded);

        Assert.That(encoder.Runs, Is.EqualTo(1));
        Assert.That((embedding.OriginalWidth, embedding.OriginalHeight), Is.EqualTo((333, 777)));
        Assert.That(stages.Milliseconds("image_decode"), Is.GreaterThan(0));
        Assert.That(stages.Milliseconds("encode"), Is.GreaterThan(0));
        // Stand-in feats0 channels 0..2 are the 4×4-averaged normalised colour: the grey corner is (128/255 − mean)/std.
        var red = embedding.HighResFeats0.Span[0];
        Assert.That(red, Is.EqualTo((128f / 255f - 0.485f) / 0.229f).Within(1e-3));
    }

    [TestCase(EncoderArena.Off)]
    [TestCase(EncoderArena.Shrink)]
    public void EncodeImage_ArenaOffOrShrunk_SameBytesAsTheKeptArenaOnEveryRun(EncoderArena arena)
    {
        var options = StandInModelSet.Options(StandInFormat.SamExporter);
        using var kept = new Sam2Encoder(options.EncoderPath!, new ModelOptions { EncoderPath = options.EncoderPath, DecoderPath = options.DecoderPath, Device = "cpu", EncoderArena = EncoderArena.Keep }, NullLogger.Instance);
        using var candidate = new Sam2Encoder(options.EncoderPath!, new ModelOptions { EncoderPath = options.EncoderPath, DecoderPath = options.DecoderPath, Device = "cpu", EncoderArena = arena }, NullLogger.Instance);
        var scene = Scenes.Create(320, 240);

        using var expected = kept.EncodeImage(scene.Encoded);
        // Twice: the second run is the one that finds the first run's memory freed (off) or shrunk (shrink).
        for (var run = 0; run < 2; run++)
        {
            using var actual = candidate.EncodeImage(scene.Encoded);
            Assert.That(actual.ImageEmbed.Span.SequenceEqual(expected.ImageEmbed.Span), Is.True, $"image_embed, run {run}");
            Assert.That(actual.HighResFeats0.Span.SequenceEqual(expected.HighResFeats0.Span), Is.True, $"high_res_feats_0, run {run}");
            Assert.That(actual.HighResFeats1.Span.SequenceEqual(expected.HighResFeats1.Span), Is.True, $"high_res_feats_1, run {run}");
        }
    }

    [Test]
    public void Run_TwoEmbeddings_BuffersReturnedOnDispose()
    {
        using var encoder = StandInModelSet.CreateEncoder(StandInFormat.SamExporter);
        var before = ImageEmbedding.LiveCount;
        var input = new float[3 * 1024 * 1024];
        var a = encoder.Run(input, 10, 10);
        var b = encoder.Run(input, 10, 10);
        Assert.That(ImageEmbedding.LiveCount, Is.EqualTo(before + 2));
        Assert.That(a.TryAddReference(), Is.True);
        a.Dispose();
        Assert.That(ImageEmbedding.LiveCount, Is.EqualTo(before + 2), "one reference still held");
        a.Dispose();
        b.Dispose();
        Assert.That(ImageEmbedding.LiveCount, Is.EqualTo(before));
        Assert.That(a.TryAddReference(), Is.False, "a released embedding cannot be revived");
    }

    [Test]
    public void Constructor_CorruptFile_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"corrupt-{Guid.NewGuid():N}.encoder.onnx");
        File.WriteAllBytes(path, "this is not an onnx model"u8.ToArray());
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => new Sam2Encoder(path, new ModelOptions(), NullLogger.Instance));
            Assert.That(e!.Message, Does.Contain(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Constructor_DecoderFileGivenAsEncoder_ThrowsSayingWhatIsWrong()
    {
        var decoder = StandInModelSet.Options(StandInFormat.SamExporter).DecoderPath!;
        var e = Assert.Throws<InvalidDataException>(() => new Sam2Encoder(decoder, new ModelOptions(), NullLogger.Instance));
        Assert.That(e!.Message, Does.Contain("not a SAM2 image encoder"));
    }

    [Test]
    public void Constructor_DeviceCudaOnCpuBuild_FallsBackToCpu()
    {
        var stand = StandInModelSet.Options(StandInFormat.SamExporter);
        var options = new ModelOptions { EncoderPath = stand.EncoderPath, DecoderPath = stand.DecoderPath, Device = "cuda" };
        using var encoder = new Sam2Encoder(options.EncoderPath!, options, NullLogger.Instance);
        Assert.That(encoder.Provider, Is.EqualTo("CPU"));
    }
}
