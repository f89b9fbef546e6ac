namespace Sam2Interactive.Api.Cli;

/// <summary>One downloadable ONNX file of a model.</summary>
/// <param name="FileName">File name, both on the server (relative to the base URL) and in the model directory.</param>
/// <param name="ApproximateMegabytes">Size from X-AnyLabeling's model zoo (docs/en/model_zoo.md), for display only; the download
/// is verified against the server's Content-Length instead.</param>
/// <param name="Sha256">Expected lowercase hex SHA-256 of the file, or null when unknown (no digests are published for
/// the v2.5.0 release).</param>
internal sealed record ModelFile(string FileName, double ApproximateMegabytes, string? Sha256 = null);

/// <summary>A SAM2.1 variant in the samexporter encoder/decoder format.</summary>
internal sealed record ModelEntry(string Name, ModelFile Encoder, ModelFile Decoder)
{
    public IReadOnlyList<ModelFile> Files => [Encoder, Decoder];
}

/// <summary>
/// Known models: SAM2.1 fp32 files from the X-AnyLabeling v2.5.0 GitHub release (samexporter I/O, see docs/sam2-onnx.md §1a).
/// </summary>
internal static class ModelCatalog
{
    /// <summary>Environment variable overriding <see cref="DefaultBaseUrl"/> (a mirror, or a local server in tests).</summary>
    public const string BaseUrlEnvironmentVariable = "MODEL_BASE_URL";

    /// <summary>Release folder the file names are resolved against.</summary>
    public static readonly Uri DefaultBaseUrl = new("https://github.com/CVHub520/X-AnyLabeling/releases/download/v2.5.0/");

    // All decoders are the same 19.68 MB graph; encoders grow with the backbone.
    private const double DecoderMegabytes = 19.68;

    /// <summary>Known models in size order.</summary>
    public static IReadOnlyList<ModelEntry> Models { get; } =
    [
        Create("sam2.1_hiera_tiny", 128.04),
        Create("sam2.1_hiera_small", 155.17),
        Create("sam2.1_hiera_base_plus", 324.04),
        Create("sam2.1_hiera_large", 848.16),
    ];

    /// <summary>Looks a model up by exact name (ordinal, case-insensitive).</summary>
    public static ModelEntry? Find(string name) =>
        Models.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The base URL to download from: <paramref name="option"/> if given, else <see cref="BaseUrlEnvironmentVariable"/>, else
    /// <see cref="DefaultBaseUrl"/>. The result always ends with '/', so file names resolve inside it.
    /// </summary>
    /// <exception cref="ArgumentException">The chosen value is not an absolute http(s) URL.</exception>
    public static Uri ResolveBaseUrl(string? option)
    {
        var text = !string.IsNullOrWhiteSpace(option) ? option : Environment.GetEnvironmentVariable(BaseUrlEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultBaseUrl;
        }

        if (!Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var url)
            || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"'{text}' is not an absolute http(s) URL.", nameof(option));
        }

        return url;
    }

    private static ModelEntry Create(string name, double encoderMegabytes) =>
        new(name, new ModelFile($"{name}.encoder.onnx", encoderMegabytes), new ModelFile($"{name}.decoder.onnx", DecoderMegabytes));
}
