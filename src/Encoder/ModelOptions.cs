using System.Text.RegularExpressions;

namespace Sam2Interactive.Encoder;

/// <summary>Where the two ONNX files are, and how to run them. Api fills them from the environment (docs/configuration.md).</summary>
public sealed partial class ModelOptions
{
    /// <summary>The model sizes the official SAM2.1 release has.</summary>
    public static readonly IReadOnlyList<string> KnownModelNames =
        ["sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large"];

    public const string DefaultModelName = "sam2.1_hiera_tiny";

    /// <value>Folder searched for model files (<c>MODEL_DIR</c>, default <c>./models</c>).</value>
    public string ModelDirectory { get; init; } = "models";

    /// <value><c>MODEL_NAME</c>, or the size named by the seed backend's <c>MODEL_CONFIG</c>/<c>MODEL_CHECKPOINT</c>.</value>
    public string ModelName { get; init; } = DefaultModelName;

    /// <value>Explicit encoder file (<c>ENCODER_PATH</c>); overrides the directory search.</value>
    public string? EncoderPath { get; init; }

    /// <value>Explicit decoder file (<c>DECODER_PATH</c>).</value>
    public string? DecoderPath { get; init; }

    /// <value><c>DEVICE</c>: cuda or cpu. Default: cuda when this build carries the CUDA provider, else cpu.</value>
    public string Device { get; init; } = DefaultDevice;

    /// <value><c>MAX_IMAGE_PIXELS</c>: images with more pixels are refused from their header, before decoding. Default 100 M.</value>
    public long MaxImagePixels { get; init; } = 100_000_000;

    /// <value>ONNX Runtime intra-op threads of the encoder session (<c>THREADS</c>); 0 lets ONNX Runtime choose (one per core).
    /// The decoder has its own (<c>DECODER_THREADS</c>, in the decoder stage's options).</value>
    public int Threads { get; init; }

    /// <value><c>ENCODER_ARENA</c>: what the encoder session does with the memory of a run's activations (on CPU). Default
    /// <see cref="EncoderArena.Keep"/>: the arena keeps one run's activations between runs, because freeing them costs
    /// 1.65x the time of every encode (docs/scaling.md); the peak during a run is the same either way.</value>
    public EncoderArena EncoderArena { get; init; } = EncoderArena.Keep;

    /// <value>Whether ONNX Runtime's intra-op threads spin while waiting for work (its default, true). Not a setting: the
    /// benchmarks compare it (docs/benchmarks.md).</value>
    public bool AllowSpinning { get; init; } = true;

#if ORT_CUDA
    public const string DefaultDevice = "cuda";
#else
    public const string DefaultDevice = "cpu";
#endif

    /// <summary>
    /// Maps the seed backend's names (<c>sam2.1_hiera_l.yaml</c>, <c>configs/sam2.1/sam2.1_hiera_b+.yaml</c>,
    /// <c>sam2.1_hiera_large.pt</c>, <c>sam2_hiera_small.pt</c>) to one of <see cref="KnownModelNames"/>.
    /// </summary>
    public static string? NameFromSeedSetting(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var match = SeedNamePattern().Match(Path.GetFileName(value.Trim()));
        if (!match.Success) return null;
        return match.Groups["size"].Value switch
        {
            "t" or "tiny" => "sam2.1_hiera_tiny",
            "s" or "small" => "sam2.1_hiera_small",
            "b+" or "base_plus" or "b_plus" or "bplus" => "sam2.1_hiera_base_plus",
            "l" or "large" => "sam2.1_hiera_large",
            _ => null,
        };
    }

    [GeneratedRegex(@"^sam2(?:\.1)?_hiera_(?<size>tiny|small|base_plus|b_plus|bplus|large|b\+|t|s|l)(?:\.|_|$)", RegexOptions.IgnoreCase)]
    private static partial Regex SeedNamePattern();

    /// <summary>
    /// Finds the encoder and decoder files. Explicit paths win; otherwise, in <see cref="ModelDirectory"/>:
    /// <c>{name}.encoder.onnx</c>/<c>{name}.decoder.onnx</c> (samexporter, X-AnyLabeling), <c>{name}/encoder.onnx</c>
    /// (unzipped AnyLabeling bundles), and <c>[{name}/]onnx/vision_encoder.onnx</c> (onnx-community).
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing usable was found; the message says what to do.</exception>
    public (string Encoder, string Decoder) ResolvePaths()
    {
        if (EncoderPath is not null || DecoderPath is not null)
        {
            if (EncoderPath is null || DecoderPath is null)
                throw new FileNotFoundException("Set both ENCODER_PATH and DECODER_PATH (only one is set).");
            RequireFile(EncoderPath, "ENCODER_PATH");
            RequireFile(DecoderPath, "DECODER_PATH");
            return (EncoderPath, DecoderPath);
        }
        foreach (var (enc, dec) in Candidates())
        {
            if (File.Exists(enc) && File.Exists(dec)) return (enc, dec);
        }
        throw new FileNotFoundException(
            $"No SAM2 model '{ModelName}' in '{Path.GetFullPath(ModelDirectory)}'. Run `sam2i models pull {ModelName} --dir {ModelDirectory}` " +
            "(or download the two ONNX files by hand), or set ENCODER_PATH and DECODER_PATH.");
    }

    private IEnumerable<(string, string)> Candidates()
    {
        var dir = ModelDirectory;
        yield return (Path.Combine(dir, ModelName + ".encoder.onnx"), Path.Combine(dir, ModelName + ".decoder.onnx"));
        yield return (Path.Combine(dir, ModelName, ModelName + ".encoder.onnx"), Path.Combine(dir, ModelName, ModelName + ".decoder.onnx"));
        yield return (Path.Combine(dir, ModelName, "encoder.onnx"), Path.Combine(dir, ModelName, "decoder.onnx"));
        yield return (Path.Combine(dir, ModelName, "onnx", "vision_encoder.onnx"), Path.Combine(dir, ModelName, "onnx", "prompt_encoder_mask_decoder.onnx"));
        yield return (Path.Combine(dir, "onnx", "vision_encoder.onnx"), Path.Combine(dir, "onnx", "prompt_encoder_mask_decoder.onnx"));
    }

    private static void RequireFile(string path, string setting)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{setting} points to '{path}', which does not exist.", path);
    }
}

/// <summary>
/// How the encoder session holds the memory of a run's activations (one SAM2.1-tiny run: about 0.9 GiB on CPU). The
/// decoder's session always keeps its arena: its runs need a few MiB.
/// </summary>
public enum EncoderArena
{
    /// <summary>No ONNX Runtime arena: activations are allocated for a run and freed after it (large blocks go back to the
    /// system at once).</summary>
    Off,

    /// <summary>The arena, shrunk after each run (run option <c>memory.enable_memory_arena_shrinkage</c>): unused arena
    /// regions are freed.</summary>
    Shrink,

    /// <summary>The arena kept at the peak of the largest run (ONNX Runtime's default; the behaviour before issue 15).</summary>
    Keep,
}
