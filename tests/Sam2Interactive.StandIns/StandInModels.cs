using Google.Protobuf;
using Onnx;

namespace Sam2Interactive.StandIns;

/// <summary>
/// Writes small deterministic ONNX models with exactly the I/O signatures of the real SAM2 exports
/// (names, dtypes, dims, dynamic axes). The encoder is pooling + 1×1 convs; the decoder segments by colour
/// similarity to the prompted cells, so masks are meaningful on synthetic images.
/// </summary>
public static class StandInModels
{
    /// <summary>Default model name used in the file names of the samexporter-style formats.</summary>
    public const string DefaultName = "sam2.1_hiera_tiny";

    /// <summary>Initializers at least this large go to the external data file in the onnx-community format.</summary>
    private const int ExternalThresholdBytes = 64;

    /// <summary>
    /// Writes the encoder and decoder for <paramref name="format"/> into <paramref name="directory"/> (created if needed)
    /// and returns their paths. SamExporter / OrigImSize*: "{name}.encoder.onnx" + "{name}.decoder.onnx".
    /// OnnxCommunity: "onnx/vision_encoder.onnx" + "onnx/prompt_encoder_mask_decoder.onnx", each with its weights in a
    /// ".onnx_data" file beside it (ONNX external data, so the graphs load only by path); <paramref name="name"/> is unused.
    /// Output bytes depend only on the arguments.
    /// </summary>
    /// <param name="size"><see cref="StandInSize.Small"/> (default; unchanged bytes) or <see cref="StandInSize.Realistic"/>
    /// (same masks, SAM2.1-tiny-like time and memory per run).</param>
    public static (string EncoderPath, string DecoderPath) Write(string directory, StandInFormat format, string name = DefaultName,
        StandInSize size = StandInSize.Small)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var encoder = EncoderGraph.Build(format, size);
        var decoder = DecoderGraph.Build(format, size);
        if (format == StandInFormat.OnnxCommunity)
        {
            var onnxDir = Path.Combine(directory, "onnx");
            Directory.CreateDirectory(onnxDir);
            var encoderPath = Path.Combine(onnxDir, "vision_encoder.onnx");
            var decoderPath = Path.Combine(onnxDir, "prompt_encoder_mask_decoder.onnx");
            WriteWithExternalData(encoder, encoderPath);
            WriteWithExternalData(decoder, decoderPath);
            return (encoderPath, decoderPath);
        }

        Directory.CreateDirectory(directory);
        var encPath = Path.Combine(directory, name + ".encoder.onnx");
        var decPath = Path.Combine(directory, name + ".decoder.onnx");
        File.WriteAllBytes(encPath, encoder.ToByteArray());
        File.WriteAllBytes(decPath, decoder.ToByteArray());
        return (encPath, decPath);
    }

    /// <summary>Folder name used by the command line for <paramref name="format"/> (e.g. "onnx-community").</summary>
    public static string FolderName(StandInFormat format) => format switch
    {
        StandInFormat.SamExporter => "samexporter",
        StandInFormat.OnnxCommunity => "onnx-community",
        StandInFormat.OrigImSizeInt32 => "origimsize-int32",
        StandInFormat.OrigImSizeInt64 => "origimsize-int64",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>
    /// Moves every initializer of at least <see cref="ExternalThresholdBytes"/> into "{modelPath}_data" (file name
    /// "x.onnx" → "x.onnx_data"), packed back to back, and records location/offset/length on the tensor as ONNX
    /// external data does. The location is relative to the model file, as ONNX requires.
    /// </summary>
    private static void WriteWithExternalData(ModelProto model, string modelPath)
    {
        var dataPath = modelPath + "_data";
        var location = Path.GetFileName(dataPath);
        using (var data = File.Create(dataPath))
        {
            foreach (var tensor in model.Graph.Initializer)
            {
                if (tensor.RawData.Length < ExternalThresholdBytes)
                {
                    continue;
                }

                var offset = data.Position;
                tensor.RawData.WriteTo(data);
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.RawData = ByteString.Empty;
            }
        }

        File.WriteAllBytes(modelPath, model.ToByteArray());
    }
}
