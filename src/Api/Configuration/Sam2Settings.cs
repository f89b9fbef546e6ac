using Sam2Interactive.Api.Automatic;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Decoder.Automatic;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Configuration;

/// <summary>Settings of the host itself (not of a stage).</summary>
internal sealed class ServerOptions
{
    public const int DefaultPort = 9090;

    /// <value><c>PORT</c>: the listening port when <c>urls</c> is not given.</value>
    public int Port { get; init; } = DefaultPort;

    /// <value><c>SHUTDOWN_TIMEOUT</c>: how long in-flight work gets on SIGTERM. Default 30 s.</value>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <value><c>MAX_REQUEST_BYTES</c>: largest request body (Kestrel's limit; the image upload uses MAX_IMAGE_BYTES).
    /// Default 30000000, Kestrel's own default.</value>
    public long MaxRequestBytes { get; init; } = 30_000_000;

    /// <value><c>PREFETCH_QUEUE</c>: capacity of each prefetch queue. Default 1000.</value>
    public int PrefetchQueueCapacity { get; init; } = 1000;

    /// <value><c>LOG_LEVEL</c> (the seed backend's names), or null for ASP.NET's own logging configuration.</value>
    public LogLevel? LogLevel { get; init; }

    /// <value><c>BASIC_AUTH_USER</c>/<c>BASIC_AUTH_PASS</c>, or null when Basic auth is off.</value>
    public BasicAuthCredentials? BasicAuth { get; init; }

    /// <value><c>WEBHOOK_SECRET</c>, or null when /webhook takes any call.</value>
    public string? WebhookSecret { get; init; }

    /// <value><c>MAX_PROMPTS</c>: most points, and most boxes, in one <c>/api/v1</c> segment request. Default 100.</value>
    public int MaxPrompts { get; init; } = 100;

    /// <value><c>MODEL_BASE_URL</c>: where <c>models pull</c> and the first start download model files from.</value>
    public Uri ModelBaseUrl { get; init; } = Cli.ModelCatalog.DefaultBaseUrl;
}

/// <summary>
/// The settings model: maps the flat environment keys (docs/configuration.md; the seed backend's names included) onto one
/// options object per stage, through the one <see cref="SettingReader"/>. The server and the command line both read here.
/// </summary>
internal sealed record Sam2Settings(ModelOptions Model, DecoderOptions Decoder, CacheOptions Cache, LabelStudioOptions LabelStudio, ServerOptions Server,
    MaskOutputOptions Output, AutomaticOptions Automatic)
{
    // Braces would break the Redis Cluster hash tags; whitespace would break the keys' readability in redis-cli.
    private static readonly System.Buffers.SearchValues<char> s_prefixForbidden = System.Buffers.SearchValues.Create("{} \t\r\n");

    /// <summary>One setting per SAM2AutomaticMaskGenerator parameter: <c>AUTO_</c> + the parameter's name in capitals.</summary>
    public static IReadOnlyList<string> AutomaticGeneratorNames { get; } =
    [
        "AUTO_POINTS_PER_SIDE", "AUTO_POINTS_PER_BATCH", "AUTO_PRED_IOU_THRESH", "AUTO_STABILITY_SCORE_THRESH", "AUTO_STABILITY_SCORE_OFFSET",
        "AUTO_MASK_THRESHOLD", "AUTO_BOX_NMS_THRESH", "AUTO_CROP_N_LAYERS", "AUTO_CROP_NMS_THRESH", "AUTO_CROP_OVERLAP_RATIO",
        "AUTO_CROP_N_POINTS_DOWNSCALE_FACTOR", "AUTO_MIN_MASK_REGION_AREA", "AUTO_USE_M2M", "AUTO_MULTIMASK_OUTPUT",
    ];

    /// <summary>Every setting this model reads, as documented (a test keeps docs/configuration.md in step).</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "PORT", "MODEL_DIR", "MODEL_NAME", "MODEL_CONFIG", "MODEL_CHECKPOINT", "ENCODER_PATH", "DECODER_PATH", "DEVICE", "THREADS",
        "ENCODER_ARENA", "DECODER_THREADS", "WORKERS", "MAX_HOLE_AREA", "MAX_SPRINKLE_AREA", "MAX_IMAGE_PIXELS", "MAX_IMAGE_BYTES", "CACHE_MEMORY_MB", "ENCODER_CONCURRENCY",
        "PREFETCH_QUEUE", "REDIS_URL", "CACHE_DTYPE", "CACHE_TTL", "CACHE_PREFIX", "LOCK_TTL", "LOCK_WAIT", "SHUTDOWN_TIMEOUT", "MAX_REQUEST_BYTES", "LOG_LEVEL",
        "LABEL_STUDIO_URL", "LABEL_STUDIO_HOST", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_ACCESS_TOKEN", "LOCAL_FILES_DOCUMENT_ROOT",
        "FETCH_TIMEOUT", "IMAGE_URL_POLICY", "IMAGE_URL_ALLOWLIST", "BASIC_AUTH_USER", "BASIC_AUTH_PASS", "WEBHOOK_SECRET", "MODEL_BASE_URL",
        "MASK_OUTPUT", "POLYGON_MIN_AREA", "POLYGON_TOLERANCE", "POLYGON_MAX_POINTS",
        "AUTO_MASKS", "AUTO_LABEL", "AUTO_MAX_REGIONS", "AUTO_PREDICT_BUDGET", "AUTO_QUEUE", "MAX_PROMPTS", .. AutomaticGeneratorNames,
    ];

    /// <summary>Reads and validates every setting.</summary>
    /// <exception cref="SettingException">A setting is invalid; the message names it.</exception>
    public static Sam2Settings Read(IConfiguration configuration)
    {
        var r = new SettingReader(configuration);
        return new Sam2Settings(ReadModel(r), ReadDecoder(r), ReadCache(r), ReadLabelStudio(r), ReadServer(r), ReadOutput(r), ReadAutomatic(r));
    }

    /// <summary>The encoder stage's settings, shared by the decoder and cache stages (model files, device).</summary>
    public static ModelOptions ReadModel(SettingReader r)
    {
        var raw = r.Text("DEVICE");
        var device = raw switch
        {
            null => ModelOptions.DefaultDevice,
            _ when raw.Equals("cpu", StringComparison.OrdinalIgnoreCase) => "cpu",
            _ when raw.Equals("cuda", StringComparison.OrdinalIgnoreCase) => "cuda",
            _ when raw.StartsWith("cuda:", StringComparison.OrdinalIgnoreCase) => CudaDevice(raw),
            _ => throw SettingReader.Invalid("DEVICE", "cpu, cuda or cuda:N", raw),
        };
        return new ModelOptions
        {
            ModelDirectory = r.Text("MODEL_DIR") ?? "models",
            // MODEL_NAME, else the size named by the seed backend's MODEL_CONFIG / MODEL_CHECKPOINT.
            ModelName = r.Text("MODEL_NAME")
                ?? ModelOptions.NameFromSeedSetting(r.Text("MODEL_CONFIG")) ?? ModelOptions.NameFromSeedSetting(r.Text("MODEL_CHECKPOINT"))
                ?? ModelOptions.DefaultModelName,
            EncoderPath = r.Text("ENCODER_PATH"),
            DecoderPath = r.Text("DECODER_PATH"),
            Device = device,
            Threads = r.Int("THREADS", 0, 0, 1024),
            EncoderArena = r.Choice("ENCODER_ARENA", EncoderArena.Keep, ("off", EncoderArena.Off), ("shrink", EncoderArena.Shrink), ("keep", EncoderArena.Keep)),
            MaxImagePixels = r.Long("MAX_IMAGE_PIXELS", 100_000_000, 1, long.MaxValue),
        };

        static string CudaDevice(string value) =>
            int.TryParse(value.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && id < 64
                ? "cuda:" + id.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : throw SettingReader.Invalid("DEVICE", "cpu, cuda or cuda:N", value);
    }

    public static DecoderOptions ReadDecoder(SettingReader r) => new()
    {
        MaxHoleArea = r.Int("MAX_HOLE_AREA", 0, 0, 65536),
        MaxSprinkleArea = r.Int("MAX_SPRINKLE_AREA", 0, 0, 65536),
        Workers = r.Int("WORKERS", Math.Clamp(Environment.ProcessorCount, 1, 256), 1, 256),
        Threads = r.Int("DECODER_THREADS", 1, 0, 1024),
    };

    public static AutomaticOptions ReadAutomatic(SettingReader r) => new()
    {
        Enabled = r.Bool("AUTO_MASKS", false),
        Label = r.Text("AUTO_LABEL"),
        MaxRegions = r.Int("AUTO_MAX_REGIONS", 100, 1, 10_000),
        PredictBudget = r.Duration("AUTO_PREDICT_BUDGET", TimeSpan.FromSeconds(10), TimeSpan.Zero, AutomaticOptions.MaxPredictBudget),
        QueueCapacity = r.Int("AUTO_QUEUE", 1000, 1, 1_000_000),
        Generator = ReadAutomaticGenerator(r),
    };

    /// <summary>SAM2AutomaticMaskGenerator's parameters from <c>AUTO_*</c>, defaults as in SAM2.</summary>
    public static AutomaticMaskOptions ReadAutomaticGenerator(SettingReader r)
    {
        var defaults = new AutomaticMaskOptions();
        var options = new AutomaticMaskOptions
        {
            PointsPerSide = r.Int("AUTO_POINTS_PER_SIDE", defaults.PointsPerSide!.Value, 1, 1024),
            PointsPerBatch = r.Int("AUTO_POINTS_PER_BATCH", defaults.PointsPerBatch, 1, 4096),
            PredIouThresh = r.Double("AUTO_PRED_IOU_THRESH", defaults.PredIouThresh, 0, 1),
            StabilityScoreThresh = r.Double("AUTO_STABILITY_SCORE_THRESH", defaults.StabilityScoreThresh, 0, 1),
            StabilityScoreOffset = r.Double("AUTO_STABILITY_SCORE_OFFSET", defaults.StabilityScoreOffset, 0, 1000),
            MaskThreshold = r.Double("AUTO_MASK_THRESHOLD", defaults.MaskThreshold, -1000, 1000),
            BoxNmsThresh = r.Double("AUTO_BOX_NMS_THRESH", defaults.BoxNmsThresh, 0, 1),
            CropNLayers = r.Int("AUTO_CROP_N_LAYERS", defaults.CropNLayers, 0, 4),
            CropNmsThresh = r.Double("AUTO_CROP_NMS_THRESH", defaults.CropNmsThresh, 0, 1),
            CropOverlapRatio = r.Double("AUTO_CROP_OVERLAP_RATIO", defaults.CropOverlapRatio, 0, 0.99),
            CropNPointsDownscaleFactor = r.Int("AUTO_CROP_N_POINTS_DOWNSCALE_FACTOR", defaults.CropNPointsDownscaleFactor, 1, 64),
            MinMaskRegionArea = r.Int("AUTO_MIN_MASK_REGION_AREA", defaults.MinMaskRegionArea, 0, 65536),
            UseM2m = r.Bool("AUTO_USE_M2M", defaults.UseM2m),
            MultimaskOutput = r.Bool("AUTO_MULTIMASK_OUTPUT", defaults.MultimaskOutput),
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            // Combinations (a crop layer left without points): name the settings involved.
            throw new SettingException("AUTO_POINTS_PER_SIDE", "AUTO_POINTS_PER_SIDE, AUTO_CROP_N_LAYERS and AUTO_CROP_N_POINTS_DOWNSCALE_FACTOR do not fit: " + e.Message);
        }
        return options;
    }

    /// <summary>Which regions a mask becomes, and how polygons are made (also <c>segment --polygons</c>).</summary>
    public static MaskOutputOptions ReadOutput(SettingReader r) => new()
    {
        Output = r.Choice("MASK_OUTPUT", MaskOutput.Auto,
            ("auto", MaskOutput.Auto), ("brush", MaskOutput.Brush), ("polygon", MaskOutput.Polygon), ("both", MaskOutput.Both)),
        Polygon = new PolygonOptions
        {
            MinArea = r.Int("POLYGON_MIN_AREA", 64, 1, int.MaxValue),
            Tolerance = r.Double("POLYGON_TOLERANCE", 1.0, 0, 1000),
            MaxPoints = r.Int("POLYGON_MAX_POINTS", 1000, 4, 1_000_000),
        },
    };

    public static CacheOptions ReadCache(SettingReader r)
    {
        var prefix = r.Text("CACHE_PREFIX") ?? "sam2:";
        if (prefix.AsSpan().IndexOfAny(s_prefixForbidden) >= 0 || prefix.Length > 128)
            throw SettingReader.Invalid("CACHE_PREFIX", "at most 128 characters without braces or whitespace", prefix);
        return new CacheOptions
        {
            MemoryBytes = r.Size("CACHE_MEMORY_MB", CacheOptions.DefaultMemoryBytes, 0, 1L << 50, plainUnit: 1L << 20),
            EncoderConcurrency = r.Int("ENCODER_CONCURRENCY", 1, 1, 64),
            LockWait = r.Duration("LOCK_WAIT", TimeSpan.FromSeconds(120), TimeSpan.Zero, TimeSpan.FromHours(1)),
            Redis = new RedisCacheOptions
            {
                Redis = r.Parse("REDIS_URL", RedisCacheOptions.ParseRedisUrl),
                DType = r.Choice("CACHE_DTYPE", CacheDType.Float16, ("float16", CacheDType.Float16), ("float32", CacheDType.Float32)),
                Ttl = r.Duration("CACHE_TTL", TimeSpan.FromDays(7), TimeSpan.FromSeconds(1), TimeSpan.FromDays(3650)),
                Prefix = prefix,
                LockTtl = r.Duration("LOCK_TTL", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            },
        };
    }

    public static LabelStudioOptions ReadLabelStudio(SettingReader r)
    {
        var root = r.Text("LOCAL_FILES_DOCUMENT_ROOT");
        if (root is not null && !Directory.Exists(root))
            throw new SettingException("LOCAL_FILES_DOCUMENT_ROOT",
                $"LOCAL_FILES_DOCUMENT_ROOT must be an existing directory, not '{root}'; mount Label Studio's local-files root there or unset it.");
        return new LabelStudioOptions
        {
            Url = r.HttpUrl("LABEL_STUDIO_URL", "LABEL_STUDIO_HOST"),
            ApiKey = r.First("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_ACCESS_TOKEN").Value,
            LocalFilesDocumentRoot = root,
            MaxImageBytes = r.Size("MAX_IMAGE_BYTES", LabelStudioOptions.DefaultMaxImageBytes, 1, int.MaxValue),
            UrlPolicy = r.Choice("IMAGE_URL_POLICY", ImageUrlPolicy.Any, ("any", ImageUrlPolicy.Any), ("label-studio-only", ImageUrlPolicy.LabelStudioOnly)),
            Allowlist = r.Parse("IMAGE_URL_ALLOWLIST", ImageUrlAllowlist.Parse) ?? ImageUrlAllowlist.Empty,
            FetchTimeout = r.Duration("FETCH_TIMEOUT", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
        };
    }

    public static ServerOptions ReadServer(SettingReader r)
    {
        var user = r.Text("BASIC_AUTH_USER");
        var pass = r.Text("BASIC_AUTH_PASS");
        if ((user is null) != (pass is null))
        {
            var (set, missing) = user is null ? ("BASIC_AUTH_PASS", "BASIC_AUTH_USER") : ("BASIC_AUTH_USER", "BASIC_AUTH_PASS");
            throw new SettingException(missing, $"{missing} must be set when {set} is set (or unset both to turn Basic auth off).");
        }
        return new ServerOptions
        {
            Port = r.Int("PORT", ServerOptions.DefaultPort, 0, 65535),
            ShutdownTimeout = r.Duration("SHUTDOWN_TIMEOUT", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            MaxRequestBytes = r.Size("MAX_REQUEST_BYTES", 30_000_000, 1024, int.MaxValue),
            PrefetchQueueCapacity = r.Int("PREFETCH_QUEUE", 1000, 1, 1_000_000),
            LogLevel = r.Choice<LogLevel?>("LOG_LEVEL", null,
                ("TRACE", LogLevel.Trace), ("DEBUG", LogLevel.Debug), ("INFO", LogLevel.Information), ("INFORMATION", LogLevel.Information),
                ("WARN", LogLevel.Warning), ("WARNING", LogLevel.Warning), ("ERROR", LogLevel.Error), ("CRITICAL", LogLevel.Critical)),
            BasicAuth = user is null ? null : new BasicAuthCredentials(user, pass!),
            WebhookSecret = r.Text("WEBHOOK_SECRET"),
            ModelBaseUrl = ReadModelBaseUrl(r),
            MaxPrompts = r.Int("MAX_PROMPTS", 100, 1, 10_000),
        };
    }

    /// <summary><c>MODEL_BASE_URL</c>, always ending with '/' so file names resolve inside it.</summary>
    public static Uri ReadModelBaseUrl(SettingReader r, string? option = null)
    {
        var raw = !string.IsNullOrWhiteSpace(option) ? option.Trim() : r.Text("MODEL_BASE_URL");
        if (raw is null) return Cli.ModelCatalog.DefaultBaseUrl;
        if (!Uri.TryCreate(raw.EndsWith('/') ? raw : raw + "/", UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            throw SettingReader.Invalid(option is null ? "MODEL_BASE_URL" : "--base-url", "an absolute http(s) URL", raw);
        return url;
    }
}
