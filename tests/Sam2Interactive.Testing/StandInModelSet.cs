using Microsoft.Extensions.Logging.Abstractions;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;

namespace Sam2Interactive.Testing;

/// <summary>Stand-in models of every format, generated once per test run into a temporary folder.</summary>
internal static class StandInModelSet
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "sam2i-tests-" + Environment.ProcessId);
        foreach (var format in Enum.GetValues<StandInFormat>())
        {
            StandInModels.Write(Path.Combine(root, StandInModels.FolderName(format)), format);
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { System.IO.Directory.Delete(root, true); } catch (IOException) { } };
        return root;
    });

    public static StandInFormat[] Formats => Enum.GetValues<StandInFormat>();

    /// <summary>Folder of one format's files, laid out as users download them.</summary>
    public static string Directory(StandInFormat format) => Path.Combine(s_root.Value, StandInModels.FolderName(format));

    public static ModelOptions Options(StandInFormat format)
    {
        var dir = Directory(format);
        var (encoder, decoder) = format == StandInFormat.OnnxCommunity
            ? (Path.Combine(dir, "onnx", "vision_encoder.onnx"), Path.Combine(dir, "onnx", "prompt_encoder_mask_decoder.onnx"))
            : (Path.Combine(dir, StandInModels.DefaultName + ".encoder.onnx"), Path.Combine(dir, StandInModels.DefaultName + ".decoder.onnx"));
        return new ModelOptions { EncoderPath = encoder, DecoderPath = decoder, Device = "cpu" };
    }

    public static Sam2Encoder CreateEncoder(StandInFormat format)
    {
        var o = Options(format);
        return new Sam2Encoder(o.EncoderPath!, o, NullLogger.Instance);
    }

    public static Sam2Decoder CreateDecoder(StandInFormat format, DecoderOptions? options = null)
    {
        var o = Options(format);
        return new Sam2Decoder(o.DecoderPath!, o, options ?? new DecoderOptions(), NullLogger.Instance);
    }
}
