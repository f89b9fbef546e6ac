using NUnit.Framework;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class ModelOptionsTests
{
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
