using Microsoft.Extensions.Configuration;
using NUnit.Framework;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
public sealed class ModelOptionsTests
{
    private static ModelOptions From(params (string Key, string Value)[] settings) =>
        ModelOptions.FromConfiguration(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [TestCase("sam2.1_hiera_l.yaml", "sam2.1_hiera_large")]                 // the seed backend's default config
    [TestCase("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny")]    // with a folder
    [TestCase("sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus")]
    [TestCase("sam2.1_hiera_s.yaml", "sam2.1_hiera_small")]
    [TestCase("sam2.1_hiera_large.pt", "sam2.1_hiera_large")]                // a checkpoint name
    [TestCase("sam2_hiera_small.pt", "sam2.1_hiera_small")]                  // SAM2.0 names map to the 2.1 files
    public void FromConfiguration_SeedModelConfig_MapsToModelName(string seed, string expected)
    {
        Assert.That(From(("MODEL_CONFIG", seed)).ModelName, Is.EqualTo(expected));
        Assert.That(From(("MODEL_CHECKPOINT", seed)).ModelName, Is.EqualTo(expected));
    }

    [Test]
    public void FromConfiguration_ModelNameWinsOverSeedNames() =>
        Assert.That(From(("MODEL_NAME", "sam2.1_hiera_small"), ("MODEL_CONFIG", "sam2.1_hiera_l.yaml")).ModelName, Is.EqualTo("sam2.1_hiera_small"));

    [Test]
    public void FromConfiguration_Nothing_DefaultsToTinyOnCpu()
    {
        var o = From();
        Assert.That((o.ModelName, o.Device, o.ModelDirectory), Is.EqualTo(("sam2.1_hiera_tiny", "cpu", "models")));
    }

    [TestCase("DEVICE", "tpu")]
    [TestCase("THREADS", "many")]
    [TestCase("THREADS", "-1")]
    [TestCase("MAX_IMAGE_PIXELS", "0")]
    public void FromConfiguration_InvalidSetting_MessageNamesIt(string key, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => From((key, value)));
        Assert.That(e!.Message, Does.StartWith(key));
    }

    [Test]
    public void ResolvePaths_SamExporterFilesInDir_Found()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "sam2.1_hiera_small.encoder.onnx"), "");
            File.WriteAllText(Path.Combine(dir, "sam2.1_hiera_small.decoder.onnx"), "");
            var (enc, dec) = new ModelOptions { ModelDirectory = dir, ModelName = "sam2.1_hiera_small" }.ResolvePaths();
            Assert.That(Path.GetFileName(enc), Is.EqualTo("sam2.1_hiera_small.encoder.onnx"));
            Assert.That(Path.GetFileName(dec), Is.EqualTo("sam2.1_hiera_small.decoder.onnx"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void ResolvePaths_OnnxCommunityLayout_Found()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "sam2.1_hiera_tiny", "onnx"));
            File.WriteAllText(Path.Combine(dir, "sam2.1_hiera_tiny", "onnx", "vision_encoder.onnx"), "");
            File.WriteAllText(Path.Combine(dir, "sam2.1_hiera_tiny", "onnx", "prompt_encoder_mask_decoder.onnx"), "");
            var (enc, _) = new ModelOptions { ModelDirectory = dir }.ResolvePaths();
            Assert.That(enc, Does.EndWith(Path.Combine("onnx", "vision_encoder.onnx")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void ResolvePaths_NothingThere_MessageNamesModelsPullAndPaths()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new ModelOptions { ModelDirectory = "/nonexistent-models" }.ResolvePaths());
        Assert.That(e!.Message, Does.Contain("models pull").And.Contain("ENCODER_PATH"));
    }

    [Test]
    public void ResolvePaths_OnlyEncoderPath_AsksForBoth()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new ModelOptions { EncoderPath = "/x.onnx" }.ResolvePaths());
        Assert.That(e!.Message, Does.Contain("DECODER_PATH"));
    }
}
