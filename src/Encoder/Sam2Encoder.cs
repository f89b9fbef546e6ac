using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sam2Interactive.Encoder;

/// <summary>
/// The SAM2 image encoder: one ONNX session, reused and run concurrently. Binds tensors by name; the export format is
/// detected from the session's names (samexporter/X-AnyLabeling, onnx-community, ONNX Runtime's exporter, osam).
/// </summary>
internal sealed class Sam2Encoder : IDisposable
{
    private const int InputLength = 3 * Sam2Preprocessor.InputSize * Sam2Preprocessor.InputSize;
    private static readonly long[] InputShape = [1, 3, Sam2Preprocessor.InputSize, Sam2Preprocessor.InputSize];

    // Output names per canonical slot, across the export formats (sam2-onnx.md §1).
    private static readonly string[] HighRes0Names = ["high_res_feats_0", "image_embeddings.0", "image_features_0", "high_res_features1"];
    private static readonly string[] HighRes1Names = ["high_res_feats_1", "image_embeddings.1", "image_features_1", "high_res_features2"];
    private static readonly string[] ImageEmbedNames = ["image_embed", "image_embeddings.2", "image_embeddings"];

    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private long _runs;

    public Sam2Encoder(string path, ModelOptions options, ILogger logger)
    {
        _session = OrtSessionFactory.Create(path, options, logger);
        try
        {
            _inputNames = [ResolveInput(_session, path)];
            var outputs = _session.OutputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
            _outputNames =
            [
                Pick(outputs, ImageEmbedNames, path),
                Pick(outputs, HighRes0Names, path),
                Pick(outputs, HighRes1Names, path),
            ];
            Format = _inputNames[0] == "pixel_values" ? "onnx-community" : _outputNames[0] switch
            {
                "image_embed" => "samexporter",
                "image_embeddings" when _outputNames[1] == "image_features_0" => "onnxruntime",
                _ => "osam",
            };
            Path = path;
            Log.EncoderLoaded(logger, path, Format, OrtSessionFactory.ActiveProvider);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>Detected export format, for logs and /health.</summary>
    public string Format { get; }

    public string Path { get; }

    /// <summary>Encoder runs since start (metrics, tests).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Decodes an encoded image (EXIF orientation applied), preprocesses it and runs the encoder.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not an image this server can read, or too large.</exception>
    public ImageEmbedding EncodeImage(ReadOnlySpan<byte> encoded, long maxPixels, out EncodeTimings timings)
    {
        var start = Stopwatch.GetTimestamp();
        using var image = ImageDecoder.Decode(encoded, maxPixels);
        var decoded = Stopwatch.GetTimestamp();
        var embedding = Encode(image, out var run);
        var total = Stopwatch.GetElapsedTime(decoded);
        timings = new EncodeTimings(Stopwatch.GetElapsedTime(start, decoded), total - run, run);
        return embedding;
    }

    /// <summary>Preprocesses <paramref name="image"/> and runs the encoder.</summary>
    /// <returns>A new embedding; the caller owns its one reference.</returns>
    public ImageEmbedding Encode(DecodedImage image) => Encode(image, out _);

    /// <inheritdoc cref="Encode(DecodedImage)"/>
    /// <param name="runTime">Time spent in the ONNX session alone.</param>
    public ImageEmbedding Encode(DecodedImage image, out TimeSpan runTime)
    {
        var input = ArrayPool<float>.Shared.Rent(InputLength);
        try
        {
            Sam2Preprocessor.ToInputTensor(image, input.AsSpan(0, InputLength));
            return Run(input.AsMemory(0, InputLength), image.Width, image.Height, out runTime);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
    }

    /// <summary>Runs the encoder on an already normalised [1,3,1024,1024] tensor.</summary>
    public ImageEmbedding Run(Memory<float> input, int originalWidth, int originalHeight, out TimeSpan runTime)
    {
        var embedding = new ImageEmbedding(originalWidth, originalHeight);
        try
        {
            // Outputs are written straight into the embedding's pooled buffers: no copy of the 16 MiB.
            using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input, InputShape);
            using var embed = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.ImageEmbed, ImageEmbedding.ImageEmbedShape);
            using var feats0 = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.HighResFeats0, ImageEmbedding.HighResFeats0Shape);
            using var feats1 = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.HighResFeats1, ImageEmbedding.HighResFeats1Shape);
            using var runOptions = new RunOptions();
            var start = Stopwatch.GetTimestamp();
            _session.Run(runOptions, _inputNames, [inputValue], _outputNames, [embed, feats0, feats1]);
            runTime = Stopwatch.GetElapsedTime(start);
            Interlocked.Increment(ref _runs);
            return embedding;
        }
        catch
        {
            embedding.Dispose();
            throw;
        }
    }

    public void Dispose() => _session.Dispose();

    private static string ResolveInput(InferenceSession session, string path)
    {
        if (session.InputMetadata.Count != 1)
            throw new InvalidDataException($"'{path}' is not a SAM2 image encoder: it has {session.InputMetadata.Count} inputs ({string.Join(", ", session.InputMetadata.Keys)}), expected one image input.");
        var (name, meta) = session.InputMetadata.First();
        var dims = meta.Dimensions;
        if (meta.ElementDataType != TensorElementType.Float || dims.Length != 4 || dims[1] != 3 || dims[2] != 1024 || dims[3] != 1024)
            throw new InvalidDataException($"'{path}': encoder input '{name}' must be float32 [1,3,1024,1024], not {meta.ElementDataType} [{string.Join(",", dims)}].");
        return name;
    }

    private static string Pick(HashSet<string> names, string[] candidates, string path)
    {
        foreach (var c in candidates)
        {
            if (names.Contains(c)) return c;
        }
        throw new InvalidDataException($"'{path}' is not a SAM2 image encoder this server knows: none of the outputs [{string.Join(", ", names)}] is one of [{string.Join(", ", candidates)}].");
    }
}

/// <summary>Where an encode's time went: image decode, SAM2 preprocessing, the ONNX session.</summary>
internal readonly record struct EncodeTimings(TimeSpan ImageDecode, TimeSpan Preprocess, TimeSpan Run);
