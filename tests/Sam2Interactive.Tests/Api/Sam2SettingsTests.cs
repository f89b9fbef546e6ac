using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Tests.Api;

/// <summary>The settings model: every environment key mapped onto the stages' options, one parser, one error format.</summary>
[TestFixture]
[Category("Fast")]
public sealed partial class Sam2SettingsTests
{
    private static Sam2Settings Read(params (string Key, string Value)[] settings) =>
        Sam2Settings.Read(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Test]
    public void Read_NothingSet_EveryStageGetsItsDefaults()
    {
        var s = Read();
        using (Assert.EnterMultipleScope())
        {
            Assert.That((s.Model.ModelName, s.Model.Device, s.Model.ModelDirectory), Is.EqualTo(("sam2.1_hiera_tiny", "cpu", "models")));
            Assert.That(s.Model.MaxImagePixels, Is.EqualTo(100_000_000));
            Assert.That((s.Decoder.Workers, s.Decoder.Threads, s.Decoder.MaxHoleArea, s.Decoder.MaxSprinkleArea),
                Is.EqualTo((Environment.ProcessorCount, 1, 0, 0)), "WORKERS: one decoder run per core; DECODER_THREADS: one thread each");
            Assert.That((s.Cache.MemoryBytes, s.Cache.EncoderConcurrency, s.Cache.LockWait), Is.EqualTo((1536L << 20, 1, TimeSpan.FromSeconds(120))));
            Assert.That(s.Cache.Redis.Enabled, Is.False);
            Assert.That((s.Cache.Redis.DType, s.Cache.Redis.Ttl, s.Cache.Redis.Prefix, s.Cache.Redis.LockTtl),
                Is.EqualTo((CacheDType.Float16, TimeSpan.FromDays(7), "sam2:", TimeSpan.FromSeconds(30))));
            Assert.That((s.LabelStudio.Url, s.LabelStudio.UrlPolicy, s.LabelStudio.FetchTimeout), Is.EqualTo(((Uri?)null, ImageUrlPolicy.Any, TimeSpan.FromSeconds(30))));
            Assert.That((s.Server.Port, s.Server.ShutdownTimeout, s.Server.PrefetchQueueCapacity), Is.EqualTo((9090, TimeSpan.FromSeconds(30), 1000)));
            Assert.That(s.Server.BasicAuth, Is.Null);
            Assert.That(s.Server.WebhookSecret, Is.Null);
            Assert.That(s.Server.LogLevel, Is.Null);
            Assert.That(s.Output.Output, Is.EqualTo(MaskOutput.Auto));
            Assert.That((s.Output.Polygon.MinArea, s.Output.Polygon.Tolerance, s.Output.Polygon.MaxPoints), Is.EqualTo((64, 1.0, 1000)));
        }
    }

    [Test]
    public void Read_MaskOutputAndPolygonSettings_MapOntoOutputOptions()
    {
        var s = Read(("MASK_OUTPUT", "Both"), ("POLYGON_MIN_AREA", "10"), ("POLYGON_TOLERANCE", "1.5"), ("POLYGON_MAX_POINTS", "200"));

        Assert.That((s.Output.Output, s.Output.Polygon.MinArea, s.Output.Polygon.Tolerance, s.Output.Polygon.MaxPoints),
            Is.EqualTo((MaskOutput.Both, 10, 1.5, 200)));
    }

    [Test]
    public void Read_NoAutoSettings_OffWithSam2GeneratorDefaults()
    {
        var s = Read();
        using (Assert.EnterMultipleScope())
        {
            Assert.That((s.Automatic.Enabled, s.Automatic.Label, s.Automatic.MaxRegions, s.Automatic.PredictBudget, s.Automatic.QueueCapacity),
                Is.EqualTo((false, (string?)null, 100, TimeSpan.FromSeconds(10), 1000)));
            // SAM2AutomaticMaskGenerator.__init__'s defaults.
            Assert.That(s.Automatic.Generator, Is.EqualTo(new Sam2Interactive.Decoder.Automatic.AutomaticMaskOptions()));
            var g = s.Automatic.Generator;
            Assert.That((g.PointsPerSide, g.PointsPerBatch, g.PredIouThresh, g.StabilityScoreThresh, g.StabilityScoreOffset, g.MaskThreshold, g.BoxNmsThresh),
                Is.EqualTo(((int?)32, 64, 0.8, 0.95, 1.0, 0.0, 0.7)));
            Assert.That((g.CropNLayers, g.CropNmsThresh, g.CropOverlapRatio, g.CropNPointsDownscaleFactor, g.MinMaskRegionArea, g.UseM2m, g.MultimaskOutput),
                Is.EqualTo((0, 0.7, 512.0 / 1500, 1, 0, false, true)));
        }
    }

    [Test]
    public void Read_AutoSettings_EachGeneratorParameterSet()
    {
        var s = Read(("AUTO_MASKS", "on"), ("AUTO_LABEL", "Banana"), ("AUTO_MAX_REGIONS", "7"), ("AUTO_PREDICT_BUDGET", "2s"),
            ("AUTO_POINTS_PER_SIDE", "16"), ("AUTO_POINTS_PER_BATCH", "8"), ("AUTO_PRED_IOU_THRESH", "0.88"), ("AUTO_STABILITY_SCORE_THRESH", "0.9"),
            ("AUTO_STABILITY_SCORE_OFFSET", "0.5"), ("AUTO_MASK_THRESHOLD", "-1.5"), ("AUTO_BOX_NMS_THRESH", "0.6"), ("AUTO_CROP_N_LAYERS", "1"),
            ("AUTO_CROP_NMS_THRESH", "0.5"), ("AUTO_CROP_OVERLAP_RATIO", "0.25"), ("AUTO_CROP_N_POINTS_DOWNSCALE_FACTOR", "2"),
            ("AUTO_MIN_MASK_REGION_AREA", "100"), ("AUTO_USE_M2M", "true"), ("AUTO_MULTIMASK_OUTPUT", "false"));
        var g = s.Automatic.Generator;
        using (Assert.EnterMultipleScope())
        {
            Assert.That((s.Automatic.Enabled, s.Automatic.Label, s.Automatic.MaxRegions, s.Automatic.PredictBudget), Is.EqualTo((true, "Banana", 7, TimeSpan.FromSeconds(2))));
            Assert.That((g.PointsPerSide, g.PointsPerBatch, g.PredIouThresh, g.StabilityScoreThresh, g.StabilityScoreOffset, g.MaskThreshold, g.BoxNmsThresh),
                Is.EqualTo(((int?)16, 8, 0.88, 0.9, 0.5, -1.5, 0.6)));
            Assert.That((g.CropNLayers, g.CropNmsThresh, g.CropOverlapRatio, g.CropNPointsDownscaleFactor, g.MinMaskRegionArea, g.UseM2m, g.MultimaskOutput),
                Is.EqualTo((1, 0.5, 0.25, 2, 100, true, false)));
        }
    }

    [TestCase("AUTO_PRED_IOU_THRESH", "1.2", "AUTO_PRED_IOU_THRESH must be a number from 0 to 1, not '1.2'.")]
    [TestCase("AUTO_MASK_THRESHOLD", "zero", "AUTO_MASK_THRESHOLD must be a number from -1000 to 1000, not 'zero'.")]
    [TestCase("AUTO_POINTS_PER_SIDE", "0", "AUTO_POINTS_PER_SIDE must be a whole number from 1 to 1024, not '0'.")]
    [TestCase("AUTO_MASKS", "maybe", "AUTO_MASKS must be true or false or 1 or 0 or yes or no or on or off, not 'maybe'.")]
    [TestCase("AUTO_PREDICT_BUDGET", "2m", "AUTO_PREDICT_BUDGET must be a duration from 0s to 90s")]
    public void Read_InvalidAutoSetting_MessageNamesIt(string key, string value, string message)
    {
        var e = Assert.Throws<SettingException>(() => Read((key, value)));
        Assert.That(e!.Message, Does.StartWith(message));
        Assert.That(e.Key, Is.EqualTo(key));
    }

    [Test]
    public void Read_CropLayerWithoutPoints_NamesTheThreeSettings()
    {
        var e = Assert.Throws<SettingException>(() => Read(("AUTO_POINTS_PER_SIDE", "3"), ("AUTO_CROP_N_LAYERS", "2"), ("AUTO_CROP_N_POINTS_DOWNSCALE_FACTOR", "2")));
        Assert.That(e!.Message, Does.Contain("AUTO_CROP_N_LAYERS").And.Contain("AUTO_CROP_N_POINTS_DOWNSCALE_FACTOR"));
    }

    // Every duration is read by the one parser: plain seconds, a unit, or a TimeSpan. LOCK_WAIT=30s stopped start-up before.
    [TestCase("LOCK_WAIT", "30s", 30.0)]
    [TestCase("LOCK_WAIT", "30", 30.0)]
    [TestCase("LOCK_WAIT", "2m", 120.0)]
    [TestCase("FETCH_TIMEOUT", "30s", 30.0)]
    [TestCase("FETCH_TIMEOUT", "500ms", 0.5)]
    [TestCase("SHUTDOWN_TIMEOUT", "1m", 60.0)]
    [TestCase("CACHE_TTL", "604800", 604800.0)]
    [TestCase("CACHE_TTL", "7d", 604800.0)]
    [TestCase("CACHE_TTL", "12h", 43200.0)]
    [TestCase("CACHE_TTL", "1.5h", 5400.0)]
    [TestCase("CACHE_TTL", "1.00:00:00", 86400.0)]
    [TestCase("LOCK_TTL", "500ms", 0.5)]
    public void Read_Duration_SameSyntaxForEverySetting(string key, string value, double seconds)
    {
        var s = Read((key, value));
        var actual = key switch
        {
            "LOCK_WAIT" => s.Cache.LockWait,
            "FETCH_TIMEOUT" => s.LabelStudio.FetchTimeout,
            "SHUTDOWN_TIMEOUT" => s.Server.ShutdownTimeout,
            "CACHE_TTL" => s.Cache.Redis.Ttl,
            _ => s.Cache.Redis.LockTtl,
        };
        Assert.That(actual, Is.EqualTo(TimeSpan.FromSeconds(seconds)));
    }

    [TestCase("CACHE_MEMORY_MB", "512", 512L << 20)]     // a plain number counts in the unit the name says
    [TestCase("CACHE_MEMORY_MB", "2GiB", 2L << 30)]
    [TestCase("CACHE_MEMORY_MB", "0", 0L)]
    [TestCase("MAX_IMAGE_BYTES", "1000", 1000L)]
    [TestCase("MAX_IMAGE_BYTES", "64MiB", 64L << 20)]
    [TestCase("MAX_IMAGE_BYTES", "64MB", 64_000_000L)]
    public void Read_Size_PlainNumberOrUnit(string key, string value, long bytes)
    {
        var s = Read((key, value));
        Assert.That(key == "CACHE_MEMORY_MB" ? s.Cache.MemoryBytes : s.LabelStudio.MaxImageBytes, Is.EqualTo(bytes));
    }

    [TestCase("sam2.1_hiera_l.yaml", "sam2.1_hiera_large")]                 // the seed backend's default config
    [TestCase("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny")]    // with a folder
    [TestCase("sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus")]
    [TestCase("sam2.1_hiera_s.yaml", "sam2.1_hiera_small")]
    [TestCase("sam2.1_hiera_large.pt", "sam2.1_hiera_large")]                // a checkpoint name
    [TestCase("sam2_hiera_small.pt", "sam2.1_hiera_small")]                  // SAM2.0 names map to the 2.1 files
    public void Read_SeedModelConfig_MapsToModelName(string seed, string expected)
    {
        Assert.That(Read(("MODEL_CONFIG", seed)).Model.ModelName, Is.EqualTo(expected));
        Assert.That(Read(("MODEL_CHECKPOINT", seed)).Model.ModelName, Is.EqualTo(expected));
    }

    [Test]
    public void Read_ModelNameWinsOverSeedNames() =>
        Assert.That(Read(("MODEL_NAME", "sam2.1_hiera_small"), ("MODEL_CONFIG", "sam2.1_hiera_l.yaml")).Model.ModelName, Is.EqualTo("sam2.1_hiera_small"));

    [TestCase("CUDA", "cuda")]
    [TestCase("cuda:1", "cuda:1")]
    [TestCase("Cpu", "cpu")]
    public void Read_Device_Normalised(string value, string expected) => Assert.That(Read(("DEVICE", value)).Model.Device, Is.EqualTo(expected));

    [Test]
    public void Read_EveryCacheSetting_Parsed()
    {
        var o = Read(("REDIS_URL", "redis://cache:6380/3"), ("CACHE_DTYPE", "FLOAT32"), ("CACHE_TTL", "12h"),
            ("CACHE_PREFIX", "lab7:"), ("LOCK_TTL", "45s")).Cache.Redis;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Enabled, Is.True);
            Assert.That(o.Redis!.EndPoints.Single().ToString(), Is.EqualTo("Unspecified/cache:6380"));
            Assert.That(o.Redis.DefaultDatabase, Is.EqualTo(3));
            Assert.That(o.DType, Is.EqualTo(CacheDType.Float32));
            Assert.That(o.Ttl, Is.EqualTo(TimeSpan.FromHours(12)));
            Assert.That(o.Prefix, Is.EqualTo("lab7:"));
            Assert.That(o.LockTtl, Is.EqualTo(TimeSpan.FromSeconds(45)));
        }
    }

    [Test]
    public void Read_LabelStudioAliases_AreRead()
    {
        var options = Read(("LABEL_STUDIO_HOST", "http://ls:8080/"), ("LABEL_STUDIO_ACCESS_TOKEN", "abc"), ("MAX_IMAGE_BYTES", "1000")).LabelStudio;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.Url, Is.EqualTo(new Uri("http://ls:8080")));
            Assert.That(options.ApiKey, Is.EqualTo("abc"));
            Assert.That(options.MaxImageBytes, Is.EqualTo(1000));
            Assert.That(options.LocalFilesDocumentRoot, Is.Null);
        }
    }

    [Test]
    public void Read_UrlPolicyAndAllowlist_AreRead()
    {
        var options = Read(("IMAGE_URL_POLICY", "label-studio-only"), ("IMAGE_URL_ALLOWLIST", "minio:9000, 10.0.0.0/8")).LabelStudio;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.UrlPolicy, Is.EqualTo(ImageUrlPolicy.LabelStudioOnly));
            Assert.That(options.Allowlist.AllowsOrigin(new Uri("http://minio:9000/b/x.png")), Is.True);
            Assert.That(options.Allowlist.AllowsAddress(System.Net.IPAddress.Parse("10.9.8.7")), Is.True);
        }
    }

    [Test]
    public void Read_BasicAuthBoth_GivesCredentials() =>
        Assert.That(Read(("BASIC_AUTH_USER", "u"), ("BASIC_AUTH_PASS", "p")).Server.BasicAuth!.Matches("Basic " + Convert.ToBase64String("u:p"u8)), Is.True);

    // Each invalid value stops start-up with "KEY must be …" (or "KEY entry …" for list settings), naming the setting.
    [TestCase("DEVICE", "tpu", "DEVICE must be cpu, cuda or cuda:N, not 'tpu'.")]
    [TestCase("DEVICE", "cuda:x", "DEVICE must be cpu, cuda or cuda:N")]
    [TestCase("THREADS", "many", "THREADS must be a whole number from 0 to 1024, not 'many'.")]
    [TestCase("THREADS", "-1", "THREADS must be a whole number from 0 to 1024")]
    [TestCase("WORKERS", "0", "WORKERS must be a whole number from 1 to 256")]
    [TestCase("DECODER_THREADS", "-1", "DECODER_THREADS must be a whole number from 0 to 1024")]
    [TestCase("MAX_IMAGE_PIXELS", "0", "MAX_IMAGE_PIXELS must be a whole number")]
    [TestCase("CACHE_MEMORY_MB", "lots", "CACHE_MEMORY_MB must be a size")]
    [TestCase("ENCODER_CONCURRENCY", "65", "ENCODER_CONCURRENCY must be a whole number from 1 to 64")]
    [TestCase("PREFETCH_QUEUE", "0", "PREFETCH_QUEUE must be a whole number")]
    [TestCase("PORT", "http", "PORT must be a whole number")]
    [TestCase("LOCK_WAIT", "soon", "LOCK_WAIT must be a duration from 0s to 1h")]
    [TestCase("LOCK_WAIT", "2h", "LOCK_WAIT must be a duration")]
    [TestCase("SHUTDOWN_TIMEOUT", "0", "SHUTDOWN_TIMEOUT must be a duration from 1s to 1h")]
    [TestCase("CACHE_TTL", "soon", "CACHE_TTL must be a duration")]        // not a duration
    [TestCase("CACHE_TTL", "0", "CACHE_TTL must be a duration")]           // zero
    [TestCase("CACHE_TTL", "-5", "CACHE_TTL must be a duration")]          // negative
    [TestCase("CACHE_TTL", "7w", "CACHE_TTL must be a duration")]          // unknown unit
    [TestCase("CACHE_DTYPE", "bfloat16", "CACHE_DTYPE must be float16 or float32, not 'bfloat16'.")]
    [TestCase("MASK_OUTPUT", "bitmap", "MASK_OUTPUT must be auto or brush or polygon or both, not 'bitmap'.")]
    [TestCase("POLYGON_MIN_AREA", "0", "POLYGON_MIN_AREA must be a whole number from 1 to")]
    [TestCase("POLYGON_TOLERANCE", "-1", "POLYGON_TOLERANCE must be a number from 0 to 1000, not '-1'.")]
    [TestCase("POLYGON_TOLERANCE", "1,5", "POLYGON_TOLERANCE must be a number from 0 to 1000")]   // invariant culture only
    [TestCase("POLYGON_TOLERANCE", "NaN", "POLYGON_TOLERANCE must be a number")]
    [TestCase("POLYGON_MAX_POINTS", "3", "POLYGON_MAX_POINTS must be a whole number from 4 to 1000000")]
    [TestCase("CACHE_PREFIX", "a{b}:", "CACHE_PREFIX must be at most 128 characters")]  // braces break hash tags
    [TestCase("CACHE_PREFIX", "my prefix", "CACHE_PREFIX must be")]                    // whitespace
    [TestCase("LOCK_TTL", "10ms", "LOCK_TTL must be a duration from 100ms to 1h")]
    [TestCase("LOCK_TTL", "2h", "LOCK_TTL must be a duration")]
    [TestCase("LOCK_TTL", "x", "LOCK_TTL must be a duration")]
    [TestCase("LOG_LEVEL", "LOUD", "LOG_LEVEL must be TRACE or DEBUG")]
    [TestCase("LABEL_STUDIO_HOST", "ls:8080", "LABEL_STUDIO_HOST must be an absolute http:// or https:// URL")]
    [TestCase("LABEL_STUDIO_URL", "ftp://ls", "LABEL_STUDIO_URL must be an absolute http:// or https:// URL")]
    [TestCase("LOCAL_FILES_DOCUMENT_ROOT", "/no/such/dir/sam2i", "LOCAL_FILES_DOCUMENT_ROOT must be an existing directory")]
    [TestCase("MAX_IMAGE_BYTES", "64 apples", "MAX_IMAGE_BYTES must be a size")]
    [TestCase("FETCH_TIMEOUT", "0", "FETCH_TIMEOUT must be a duration from 100ms to 1h")]
    [TestCase("IMAGE_URL_POLICY", "strict", "IMAGE_URL_POLICY must be any or label-studio-only, not 'strict'.")]
    [TestCase("IMAGE_URL_ALLOWLIST", "10.0.0.0/33", "IMAGE_URL_ALLOWLIST entry '10.0.0.0/33' is not a valid address range")]
    [TestCase("IMAGE_URL_ALLOWLIST", "minio, 10.0.0.1/8", "IMAGE_URL_ALLOWLIST entry '10.0.0.1/8' is not a valid address range")]
    [TestCase("IMAGE_URL_ALLOWLIST", "http://minio:9000/bucket", "IMAGE_URL_ALLOWLIST entry 'http://minio:9000/bucket' must be an origin only")]
    [TestCase("IMAGE_URL_ALLOWLIST", "ftp://minio", "IMAGE_URL_ALLOWLIST entry 'ftp://minio' is not an http:// or https:// origin")]
    [TestCase("IMAGE_URL_ALLOWLIST", "minio:99999", "IMAGE_URL_ALLOWLIST entry 'minio:99999' has a port that is not a number")]
    [TestCase("IMAGE_URL_ALLOWLIST", "min io", "IMAGE_URL_ALLOWLIST entry 'min io' is not a host name")]
    [TestCase("REDIS_URL", "http://cache:6379", "REDIS_URL")]                  // wrong scheme
    [TestCase("REDIS_URL", "redis://cache:6379/abc", "REDIS_URL")]             // database is not a number
    [TestCase("REDIS_URL", "redis://cache:6379/0?timeout=5", "REDIS_URL")]     // query not supported in URL form
    [TestCase("REDIS_URL", "redis://", "REDIS_URL")]                           // no host
    [TestCase("REDIS_URL", "not a host,password=x", "REDIS_URL")]              // endpoint with spaces
    [TestCase("REDIS_URL", ",password=x", "REDIS_URL")]                        // no endpoint at all
    [TestCase("BASIC_AUTH_USER", "x", "BASIC_AUTH_PASS must be set when BASIC_AUTH_USER is set")]
    [TestCase("BASIC_AUTH_PASS", "x", "BASIC_AUTH_USER must be set when BASIC_AUTH_PASS is set")]
    [TestCase("MODEL_BASE_URL", "ftp://mirror", "MODEL_BASE_URL must be an absolute http(s) URL")]
    public void Read_InvalidSetting_ThrowsNamingIt(string key, string value, string expected)
    {
        var e = Assert.Throws<SettingException>(() => Read((key, value)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(e!.Key, Is.EqualTo(key.StartsWith("BASIC_AUTH", StringComparison.Ordinal) ? e.Key : key));
            Assert.That(e.Message, Does.StartWith(expected));
        }
    }

    [Test]
    public void Read_BadRedisConfigurationStringWithPassword_MessageHidesPassword()
    {
        var e = Assert.Throws<SettingException>(() => Read(("REDIS_URL", "h:1,password=hunter2,connectTimeout=soon")));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(e!.Message, Does.StartWith("REDIS_URL"));
            Assert.That(e.Message, Does.Not.Contain("hunter2"));
        }
    }

    /// <summary>Settings are an interface: every name the model reads is documented, and every documented one is read.</summary>
    [Test]
    public void Names_EveryDocumentedSettingReadAndEveryReadSettingDocumented()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md"));
        var documented = SettingRow().Matches(doc).SelectMany(m => BacktickName().Matches(m.Groups[1].Value).Select(n => n.Groups[1].Value))
            .Where(n => n.All(c => char.IsUpper(c) || c == '_' || char.IsDigit(c)))
            .ToHashSet(StringComparer.Ordinal);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Sam2Settings.Names.Except(documented), Is.Empty, "read but not documented in docs/configuration.md");
            Assert.That(documented.Except(Sam2Settings.Names), Is.Empty, "documented but not read by Sam2Settings");
        }
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sam2Interactive.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Sam2Interactive.sln not found above the test directory");
    }

    // First cell of a table row: "| `NAME` (alias `OTHER`) | …".
    [GeneratedRegex(@"^\| ([^|]*`[A-Z][A-Z0-9_]+`[^|]*) \|", RegexOptions.Multiline)]
    private static partial Regex SettingRow();

    [GeneratedRegex("`([A-Za-z][A-Za-z0-9_]*)`")]
    private static partial Regex BacktickName();
}
