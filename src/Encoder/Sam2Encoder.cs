using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sam2Interactive.Encoder;

/// <summary>
/// The SAM2 image encoder: one ONNX session, reused and run concurrently. Binds tensors by name; the export format is
/// detected from the session's names (samexporter/X-AnyLabeling, onnx-community, ONNX Runtime's exporter, osam;
/// docs/sam2-onnx.md §1). Records its runs and stage timings on <see cref="EncoderMetrics"/>.
/// </summary>
public sealed class Sam2Encoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly ModelOptions _options;
    private readonly EncoderMetrics _metrics;
    private readonly EmbeddingPool _pool;
    private long _runs;

    /// <param name="metrics">Where runs and timings go; null for a meter no host exports.</param>
    /// <param name="pool">Where the embeddings' buffers come from; <see cref="EmbeddingPool.Shared"/> when null.</param>
    /// <exception cref="InvalidDataException">The file is missing, not loadable, or not a SAM2 image encoder; the message names it.</exception>
    public Sam2Encoder(string path, ModelOptions options, ILogger logger, EncoderMetrics? metrics = null, EmbeddingPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _metrics = metrics ?? new EncoderMetrics(null);
        _pool = pool ?? EmbeddingPool.Shared;
        _session = OrtSessionFactory.Create(path, options, logger, out var provider, cpuArena: options.EncoderArena != EncoderArena.Off);
        try
        {
            _inputNames = [ResolveInput(_session, path)];
            var outputs = _session.OutputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
            _outputNames =
            [
                Pick(outputs, Sam2Tensors.ImageEmbedNames, path),
                Pick(outputs, Sam2Tensors.HighResFeats0Names, path),
                Pick(outputs, Sam2Tensors.HighResFeats1Names, path),
            ];
            Format = _inputNames[0] == "pixel_values" ? "onnx-community" : _outputNames[0] switch
            {
                "image_embed" => "samexporter",
                "image_embeddings" when _outputNames[1] == "image_features_0" => "onnxruntime",
                _ => "osam",
            };
            Path = path;
            Provider = provider;
            Log.EncoderLoaded(logger, path, Format, provider);
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

    /// <summary>Execution provider this session runs on: "CUDA" or "CPU".</summary>
    public string Provider { get; }

    /// <summary>Encoder runs for images since start (not the warm-up).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>
    /// Decodes an encoded image (EXIF orientation applied; refused from its header above MAX_IMAGE_PIXELS), preprocesses
    /// it and runs the encoder.
    /// </summary>
    /// <returns>A new embedding; the caller owns its one reference.</returns>
    /// <exception cref="ImageDecodeException">The bytes are not an image this server can read, or too large.</exception>
    public ImageEmbedding EncodeImage(ReadOnlySpan<byte> encoded)
    {
        var start = Stopwatch.GetTimestamp();
        using var image = ImageDecoder.Decode(encoded, _options.MaxImagePixels, allowRgba: true);
        _metrics.StageSeconds.Record("image_decode", Stopwatch.GetElapsedTime(start));
        return Encode(image);
    }

    /// <summary>Preprocesses <paramref name="image"/> and runs the encoder.</summary>
    /// <returns>A new embedding; the caller owns its one reference.</returns>
    internal ImageEmbedding Encode(DecodedImage image)
    {
        var start = Stopwatch.GetTimestamp();
        var input = ArrayPool<float>.Shared.Rent(Sam2Tensors.InputLength);
        try
        {
            Sam2Preprocessor.ToInputTensor(image, input.AsSpan(0, Sam2Tensors.InputLength));
            var embedding = Run(input.AsMemory(0, Sam2Tensors.InputLength), image.Width, image.Height);
            _metrics.StageSeconds.Record("encode", Stopwatch.GetElapsedTime(start));
            return embedding;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
    }

    /// <summary>
    /// Encodes the crop [x0, x1) × [y0, y1) of <paramref name="image"/> as SAM2's automatic mask generator does for its crop
    /// layers (<c>set_image(image[y0:y1, x0:x1])</c>): the crop is preprocessed on its own (resized to 1024²) and the
    /// embedding's original size is the crop's. Counted as an encoder run.
    /// </summary>
    /// <returns>A new embedding; the caller owns its one reference.</returns>
    public ImageEmbedding EncodeCrop(FullResolutionImage image, int x0, int y0, int x1, int y1)
    {
        ArgumentNullException.ThrowIfNull(image);
        var start = Stopwatch.GetTimestamp();
        int width = x1 - x0, height = y1 - y0;
        var rgb = ArrayPool<byte>.Shared.Rent(checked(width * height * 3));
        var input = ArrayPool<float>.Shared.Rent(Sam2Tensors.InputLength);
        try
        {
            image.CopyCrop(x0, y0, x1, y1, rgb);
            Sam2Preprocessor.ToInputTensor(rgb.AsSpan(0, width * height * 3), width, height, input.AsSpan(0, Sam2Tensors.InputLength));
            var embedding = Run(input.AsMemory(0, Sam2Tensors.InputLength), width, height);
            _metrics.StageSeconds.Record("encode", Stopwatch.GetElapsedTime(start));
            return embedding;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgb);
            ArrayPool<float>.Shared.Return(input);
        }
    }

    /// <summary>Runs the encoder on an already normalised [1,3,1024,1024] tensor and counts the run.</summary>
    /// <returns>A new embedding for an image of the given original size; the caller owns its one reference.</returns>
    public ImageEmbedding Run(Memory<float> input, int originalWidth, int originalHeight)
    {
        var embedding = RunSession(input, originalWidth, originalHeight);
        Interlocked.Increment(ref _runs);
        _metrics.Runs.Add(1);
        return embedding;
    }

    /// <summary>One uncounted run on a blank image, so the first real encode pays no session initialisation.</summary>
    /// <returns>A 64×64 embedding for the decoder's warm-up; the caller owns it.</returns>
    public ImageEmbedding WarmUp()
    {
        var input = ArrayPool<float>.Shared.Rent(Sam2Tensors.InputLength);
        try
        {
            input.AsSpan(0, Sam2Tensors.InputLength).Clear();
            return RunSession(input.AsMemory(0, Sam2Tensors.InputLength), 64, 64);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
    }

    private ImageEmbedding RunSession(Memory<float> input, int originalWidth, int originalHeight)
    {
        var embedding = new ImageEmbedding(originalWidth, originalHeight, _pool);
        try
        {
            // Outputs are written straight into the embedding's pooled buffers: no copy of the 16 MiB.
            using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input, Sam2Tensors.InputShape.ToArray());
            using var embed = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.ImageEmbed, Sam2Tensors.ImageEmbedShape.ToArray());
            using var feats0 = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.HighResFeats0, Sam2Tensors.HighResFeats0Shape.ToArray());
            using var feats1 = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.HighResFeats1, Sam2Tensors.HighResFeats1Shape.ToArray());
            using var runOptions = new RunOptions();
            // Frees the arena regions this run left unused, so a run's activations do not stay resident between images.
            if (_options.EncoderArena == EncoderArena.Shrink) runOptions.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
            _session.Run(runOptions, _inputNames, [inputValue], _outputNames, [embed, feats0, feats1]);
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
        if (meta.ElementDataType != TensorElementType.Float || dims.Length != 4 || dims[1] != 3 || dims[2] != Sam2Tensors.InputSize || dims[3] != Sam2Tensors.InputSize)
            throw new InvalidDataException($"'{path}': encoder input '{name}' must be float32 [1,3,1024,1024], not {meta.ElementDataType} [{string.Join(",", dims)}].");
        return name;
    }

    private static string Pick(HashSet<string> names, IReadOnlyList<string> candidates, string path)
    {
        foreach (var c in candidates)
        {
            if (names.Contains(c)) return c;
        }
        throw new InvalidDataException($"'{path}' is not a SAM2 image encoder this server knows: none of the outputs [{string.Join(", ", names)}] is one of [{string.Join(", ", candidates)}].");
    }
}
