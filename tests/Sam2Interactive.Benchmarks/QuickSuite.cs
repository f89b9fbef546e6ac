using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>quick</c>: the end-to-end load driver. Runs the real server (Kestrel on loopback) against the Label Studio stand-in and
/// measures every issue-5 scenario next to its baseline in the same run, then prints one table of ratios. Ratios are medians
/// over interleaved samples (baseline, candidate, baseline, …), so drift from other work on the machine hits both alike.
/// </summary>
internal sealed partial class QuickSuite : IAsyncDisposable
{
    private const int WarmSamples = 15;
    private const int SeedSamples = 1;

    private readonly BenchArguments _args;
    private readonly List<Row> _rows = [];
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) }) { Timeout = TimeSpan.FromMinutes(5) };
    private LabelStudioStandIn? _ls;
    private long _taskIds = 100;

    private QuickSuite(BenchArguments args) => _args = args;

    /// <summary>One line of the table. <paramref name="Met"/> is null when the row has no target.</summary>
    private sealed record Row(string Scenario, string Measured, string Baseline, string Ratio, string Target, bool? Met);

    public static async Task<int> RunAsync(BenchArguments args)
    {
        await using var suite = new QuickSuite(args);
        return await suite.RunAllAsync();
    }

    private async Task<int> RunAllAsync()
    {
        var total = Stopwatch.StartNew();
        var (encoderPath, decoderPath) = _args.ResolveModels();
        Console.WriteLine($"models: {encoderPath} | {decoderPath}");
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {CpuModel()}, load average {StandInCost.LoadAverage()} at start");
        _ls = await LabelStudioStandIn.StartAsync();
        if (_args.RedisOnly)
        {
            // Only the tier-2 rows, for work on the Redis path (the ratio is measured side by side all the same).
            await RedisScenariosAsync(SmallEncoder(encoderPath), decoderPath);
            Print(total.Elapsed);
            return 0;
        }
        ModelCost(encoderPath, decoderPath);

        Kernels();
        await using (var server = await StartServerAsync(encoderPath, decoderPath, "main"))
        {
            await WarmClickAsync(server, 1024, 1024);
            await WarmClickAsync(server, 4000, 3000);
            await SeedDesignAsync(server, 1024, 1024);
            await SeedDesignAsync(server, 4000, 3000);
            await PrefetchAsync(server);
        }
        // Concurrency: the clicks never touch the encoder, so the images are encoded by the small stand-in encoder (same
        // outputs as the realistic one to float32 precision): 16 images cost seconds instead of minutes. Real models: as given.
        var concurrencyEncoder = SmallEncoder(encoderPath);
        Console.WriteLine("[settings] decoder sessions side by side");
        var coreBound = DecoderSettings(concurrencyEncoder, decoderPath);
        var servers = new List<(ServerSetting, TestServer)>();
        try
        {
            foreach (var setting in s_serverSettings)
                servers.Add((setting, await StartServerAsync(concurrencyEncoder, decoderPath, "concurrency " + setting.Name, setting.Settings)));
            await AnnotatorsAsync(servers, coreBound);
        }
        finally
        {
            foreach (var (_, server) in servers) await server.DisposeAsync();
        }
        await RedisScenariosAsync(concurrencyEncoder, decoderPath);

        Print(total.Elapsed);
        return 0;
    }

    /// <summary>
    /// The model pair's bare cost beside the references of a real SAM2.1-tiny export (<see cref="StandInCost"/>), measured
    /// first, in fresh sessions, so a drift of the stand-ins (or of the machine) shows before any ratio is read.
    /// </summary>
    private void ModelCost(string encoderPath, string decoderPath)
    {
        StandInCost.Measurement cost;
        using (var models = new StandInCost.BareModels(encoderPath, decoderPath, _args.Threads))
        {
            cost = models.Measure(encoderRuns: 3, decoderRuns: 21);
        }
        Console.WriteLine("bare model runs, beside a real SAM2.1-tiny export on this machine kind:");
        StandInCost.Print(cost, "  ");
        // Targets hold for the realistic stand-ins; real files and --small just show where they stand.
        var calibrated = _args.UsesStandIns && !_args.Small;
        bool? Within(double measured, double reference) => calibrated ? Math.Abs((measured / reference) - 1) <= StandInCost.Tolerance : null;
        var target = $"±{StandInCost.Tolerance * 100:F0} %";
        _rows.Add(new Row("bare encoder run ÷ SAM2.1-tiny's", $"{cost.EncoderWallMs:F0} ms (n={cost.EncoderRuns}; {cost.EncoderCpuMs:F0} ms CPU)",
            $"{StandInCost.ReferenceEncoderMs:F0} ms", Ratio(cost.EncoderWallMs / StandInCost.ReferenceEncoderMs), target,
            Within(cost.EncoderWallMs, StandInCost.ReferenceEncoderMs)));
        _rows.Add(new Row("bare decoder run (1 point) ÷ SAM2.1-tiny's", $"{cost.DecoderWallMs:F1} ms (n={cost.DecoderRuns}; {cost.DecoderCpuMs:F1} ms CPU)",
            $"{StandInCost.ReferenceDecoderMs:F0} ms", Ratio(cost.DecoderWallMs / StandInCost.ReferenceDecoderMs), target,
            Within(cost.DecoderWallMs, StandInCost.ReferenceDecoderMs)));
        if (cost.EncoderPeak is { } peak)
        {
            _rows.Add(new Row("encoder first run: peak resident ÷ SAM2.1-tiny's", $"{ProcessMemory.MiB(peak)} (+{ProcessMemory.MiB(cost.EncoderPeakAdded)} in the run)",
                $"≈ {ProcessMemory.MiB(StandInCost.ReferenceEncoderPeakBytes)}", Ratio((double)peak / StandInCost.ReferenceEncoderPeakBytes), target,
                Within(peak, StandInCost.ReferenceEncoderPeakBytes)));
        }
    }

    // ------------------------------------------------------------------------------------------------ server

    /// <summary>The real server (<see cref="TestServer"/>) on the given models against the Label Studio stand-in, on CPU with
    /// <c>--threads</c>; waits up to 5 minutes for /health (real models load and warm slowly).</summary>
    private string SmallEncoder(string encoderPath) => _args.UsesStandIns
        ? StandInModels.Write(Path.Combine(Path.GetTempPath(), "sam2i-bench-standins", "small"), StandInFormat.SamExporter).EncoderPath
        : encoderPath;

    private async Task<TestServer> StartServerAsync(string encoderPath, string decoderPath, string name,
        IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["DEVICE"] = "cpu" };
        if (_args.Threads > 0) settings["THREADS"] = _args.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) settings[key] = value;
        var start = Stopwatch.StartNew();
        var server = await TestServer.StartAsync(_ls!, encoderPath, decoderPath, settings, TimeSpan.FromMinutes(5));
        Console.WriteLine($"[{name}] server ready in {start.Elapsed.TotalSeconds:F1} s");
        return server;
    }

    private string AddImage(PhotoScene image, string name) => _ls!.AddUpload("1", name, image.Encoded);

    /// <summary>A /predict body with one positive smart keypoint on the photo's red disc, in the compact label config.</summary>
    private static string Click(string uri, long taskId, PhotoScene image) =>
        LabelStudioBodies.Click(uri, image.Click.X, image.Click.Y, image.Width, image.Height, taskId, LabelStudioBodies.CompactLabelConfig, "object");

    /// <summary>POSTs one click; returns its wall time in ms. Throws unless 200 with one brush region.</summary>
    private async Task<double> ClickAsync(string url, string body)
    {
        var start = Stopwatch.GetTimestamp();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(url + "/predict", content);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.OK || bytes.AsSpan().IndexOf("\"rle\""u8) < 0)
            throw new InvalidOperationException($"click failed: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes.AsSpan(0, Math.Min(300, bytes.Length)))}");
        return elapsed;
    }

    // ------------------------------------------------------------------------------------------------ scenarios

    /// <summary>Warm click through HTTP (tier-1 hit) ÷ the bare decoder session run on the same embedding and prompt.
    /// Returns the warm click median (ms).</summary>
    private async Task<double> WarmClickAsync(TestServer server, int width, int height)
    {
        var image = Scenes.Photo(width, height);
        var uri = AddImage(image, $"warm-{width}x{height}.jpg");
        var taskId = Interlocked.Increment(ref _taskIds);
        var body = Click(uri, taskId, image);
        var first = await ClickAsync(server.Url, body); // fetch + encode + click
        Console.WriteLine($"[main] {width}x{height}: first click (fetch + encode) {first:F0} ms; warm clicks next");

        using var embedding = await server.Segmentation.GetEmbeddingAsync(uri, taskId, EncodePriority.Click, CancellationToken.None);
        var prompt = new Prompt([new PromptPoint(image.Click.X, image.Click.Y, true)]);
        var bare = new List<double>();
        var clicks = new List<double>();
        // The decoder records its session run as stage "decode"; nothing else runs the decoder between Predict and the read.
        using var stages = new StageTimings(server.App.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        for (var i = 0; i < WarmSamples + 1; i++)
        {
            // The server's own session, prompt and output size: the "decode" stage is the session Run alone.
            using (server.Decoder.Predict(embedding, prompt, width, height))
            {
                if (i > 0) bare.Add(stages.LastMilliseconds("decode"));
            }
            var click = await ClickAsync(server.Url, body);
            if (i > 0) clicks.Add(click);
        }
        var ratio = Stats.Median(clicks) / Stats.Median(bare);
        var limit = width * height > 1024 * 1024 ? 1.25 : 1.10;
        _rows.Add(new Row($"warm click (tier-1 hit) ÷ bare decoder Run, {width}×{height}", Ms(clicks), Ms(bare), Ratio(ratio), $"≤ {limit}", ratio <= limit));
        return Stats.Median(clicks);
    }

    /// <summary>The seed backend's design: every click decodes the image, runs the encoder, then the decoder and RLE (no HTTP,
    /// no fetch: both favour the seed). ÷ warm HTTP clicks on the same size taken right before and after each seed click.</summary>
    private async Task SeedDesignAsync(TestServer server, int width, int height)
    {
        var image = Scenes.Photo(width, height);
        var prompt = new Prompt([new PromptPoint(image.Click.X, image.Click.Y, true)]);
        var warmBody = Click($"/data/upload/1/warm-{width}x{height}.jpg", 1, image);
        var times = new List<double>();
        var warm = new List<double>();
        for (var i = 0; i < SeedSamples; i++)
        {
            for (var k = 0; k < 3; k++) warm.Add(await ClickAsync(server.Url, warmBody));
            var start = Stopwatch.GetTimestamp();
            using (var embedding = server.Encoder.EncodeImage(image.Encoded))
            using (var mask = server.Decoder.Predict(embedding, prompt, width, height))
            {
                _ = BrushRle.Encode(mask);
            }
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            for (var k = 0; k < 3; k++) warm.Add(await ClickAsync(server.Url, warmBody));
        }
        Console.WriteLine($"[main] seed design {width}x{height}: {Stats.Median(times):F0} ms per click");
        var ratio = Stats.Median(times) / Stats.Median(warm);
        _rows.Add(new Row($"seed design (encoder per click) ÷ warm click, {width}×{height}", Ms(times), Ms(warm), Ratio(ratio), "≥ 60", ratio >= 60));
    }

    /// <summary>TASKS_CREATED webhook for a new image, wait until its embedding is held, then the first click ÷ the warm clicks
    /// on the same image right after it (same image, same minute).</summary>
    private async Task PrefetchAsync(TestServer server)
    {
        var clicks = new List<double>();
        var warm = new List<double>();
        var prefetchTimes = new List<double>();
        for (var variant = 1; variant <= 2; variant++)
        {
            var image = Scenes.Photo(1024, 1024, variant);
            var uri = AddImage(image, $"prefetch-{variant}.jpg");
            var taskId = Interlocked.Increment(ref _taskIds);
            var start = Stopwatch.StartNew();
            using (var content = new StringContent(LabelStudioBodies.Webhook(LabelStudioBodies.CompactLabelConfig, (taskId, uri)), Encoding.UTF8, "application/json"))
            using (var response = await _http.PostAsync(server.Url + "/webhook", content))
            {
                if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"webhook answered {(int)response.StatusCode}");
            }
            while (!server.Segmentation.IsCached(uri))
            {
                if (start.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException("prefetch did not complete in 3 minutes");
                await Task.Delay(10);
            }
            prefetchTimes.Add(start.Elapsed.TotalMilliseconds);
            // The webhook fires when tasks are created, long before an annotator opens one: do not click within the same
            // millisecond the encoder finishes, while its session threads still spin.
            await Task.Delay(1000);
            var body = Click(uri, taskId, image);
            clicks.Add(await ClickAsync(server.Url, body));
            for (var i = 0; i < 4; i++) warm.Add(await ClickAsync(server.Url, body));
        }
        var ratio = Stats.Median(clicks) / Stats.Median(warm);
        _rows.Add(new Row("first click after webhook prefetch ÷ warm click, 1024×1024", Ms(clicks), Ms(warm), Ratio(ratio), "≤ 1.2", ratio <= 1.2));
        _rows.Add(new Row("  (webhook → embedding held)", Ms(prefetchTimes), "", "", "", null));
    }

    /// <summary>Kernels timed in process (BenchmarkDotNet has the careful numbers): 4000×3000 JPEG preprocessing and the RLE of
    /// a 4000×3000 mask into a reused buffer, with the bytes each call allocates on this thread.</summary>
    private void Kernels()
    {
        var image = Scenes.Photo(4000, 3000);
        var tensor = new float[Sam2Preprocessor.TensorLength];
        var pre = Time(8, () =>
        {
            using var decoded = ImageDecoder.Decode(image.Encoded, allowRgba: true);
            Sam2Preprocessor.ToInputTensor(decoded, tensor);
        });
        _rows.Add(new Row("kernel: decode + resize + normalise, 4000×3000 JPEG", pre.Text, $"{pre.Bytes:N0} B/call", "", "≤ 60 ms", pre.Ms <= 60));

        var mask = new byte[4000 * 3000];
        MaskPostprocessor.UpsampleAndThreshold(UpsampleBenchmarks.DiscLogits(), 4000, 3000, mask);
        var buffer = new byte[BrushRle.GetMaxEncodedLength(mask.Length)];
        var rle = Time(30, () => BrushRle.Encode(mask, buffer));
        _rows.Add(new Row("kernel: brush RLE of a 4000×3000 mask (reused buffer)", rle.Text, $"{rle.Bytes:N0} B/call", "", "≤ 5 ms, 0 B", rle.Ms <= 5 && rle.Bytes == 0));

        var logits = UpsampleBenchmarks.DiscLogits();
        var up = Time(15, () => MaskPostprocessor.UpsampleAndThreshold(logits, 4000, 3000, mask));
        _rows.Add(new Row("kernel: upsample + threshold to 4000×3000 (whole mask)", up.Text, $"{up.Bytes:N0} B/call", "", "", null));

        using var prediction = MaskPrediction.FromLogits(logits, 4000, 3000);
        var writer = new System.Buffers.ArrayBufferWriter<byte>(1 << 20);
        var fused = Time(30, () =>
        {
            prediction.DropUpsampler(); // a click's fresh prediction classifies the cells too
            writer.ResetWrittenCount();
            BrushRle.Encode(prediction, writer);
        });
        _rows.Add(new Row("kernel: upsample + threshold + brush RLE, fused, 4000×3000", fused.Text, $"{fused.Bytes:N0} B/call", "", "≤ 8 ms, 0 B",
            fused.Ms <= 8 && fused.Bytes == 0));
    }

    /// <summary>A kernel's median wall time, the process CPU per call (the loaded machine's preemption shows in wall time
    /// only) and the median bytes allocated per call on the calling thread.</summary>
    private sealed record KernelTime(double Ms, double CpuMs, long Bytes)
    {
        public string Text => $"{Ms:F2} ms (CPU {CpuMs:F2} ms)";
    }

    /// <summary>Median ms over <paramref name="runs"/> calls after two warm-ups, process CPU per call over them, and the
    /// median bytes allocated per call.</summary>
    private static KernelTime Time(int runs, Action action)
    {
        action();
        action();
        var times = new List<double>();
        var bytes = new List<double>();
        var cpu = ProcessCpu();
        for (var i = 0; i < runs; i++)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            bytes.Add(GC.GetAllocatedBytesForCurrentThread() - allocated);
        }
        return new KernelTime(Stats.Median(times), (ProcessCpu() - cpu).TotalMilliseconds / runs, (long)Stats.Median(bytes));
    }

    /// <summary>
    /// Tier 2: a local redis-server, and one server per CACHE_DTYPE with CACHE_MEMORY_MB=0 (tier 1 keeps only the newest
    /// embedding). Clicking A, A, B, B, … makes every first click on an image a Redis hit and every second one a tier-1 hit, on
    /// the same server, interleaved. Encoded by the small stand-in encoder like the concurrency scenario (Redis hits never run
    /// the encoder; the run counter proves it).
    /// </summary>
    private async Task RedisScenariosAsync(string encoderPath, string decoderPath)
    {
        var redisServer = _args.RedisServer ?? RedisServerProcess.FindExecutable();
        if (redisServer is null || !File.Exists(redisServer))
        {
            _rows.Add(new Row("Redis-hit click ÷ tier-1 click (float16)", "n/a: no redis-server (apt-get install redis-server)", "", "", "≤ 1.5", null));
            return;
        }
        using var redis = RedisServerProcess.Start(executable: redisServer);

        var images = new[] { Scenes.Photo(1024, 1024, 200), Scenes.Photo(1024, 1024, 201) };
        var masks = new Dictionary<string, byte[]>();
        var bytesPerImage = new Dictionary<string, long>();
        foreach (var dtype in new[] { "float16", "float32" })
        {
            var prefix = $"bench-{dtype}:";
            await using var server = await StartServerAsync(encoderPath, decoderPath, "redis-" + dtype, new Dictionary<string, string?>
            {
                ["REDIS_URL"] = redis.Url,
                ["CACHE_DTYPE"] = dtype,
                ["CACHE_PREFIX"] = prefix,
                ["CACHE_MEMORY_MB"] = "0",
            });
            var bodies = images.Select((image, i) => Click(AddImage(image, $"redis-{i}.jpg"), 900 + i, image)).ToArray();
            foreach (var body in bodies) await ClickAsync(server.Url, body); // encode, write to Redis
            await Task.Delay(500); // the Redis write completes after the response
            var embeddings = redis.ValueLengths(prefix + "*").Where(l => l > 1 << 20).ToList();
            if (embeddings.Count == 0)
            {
                _rows.Add(new Row($"Redis-hit click ÷ tier-1 click ({dtype})", "n/a: the server wrote no embedding to Redis (tier not wired in AddCache on this build)", "", "", dtype == "float16" ? "≤ 1.5" : "", null));
                continue;
            }
            bytesPerImage[dtype] = (long)embeddings.Average();

            var runsBefore = server.Encoder.Runs;
            var pool = server.App.Services.GetRequiredService<EmbeddingPool>();
            var allocatedBefore = pool.Allocated;
            var (getBefore, getsBefore) = await StageAsync(server, "cache_get");
            var redisHits = new List<double>();
            var tier1Hits = new List<double>();
            for (var i = 0; i < 8; i++)
            {
                foreach (var (body, k) in bodies.Select((b, k) => (b, k)))
                {
                    var (hit, response) = await ClickWithBodyAsync(server.Url, body);
                    redisHits.Add(hit);
                    if (k == 0) masks[dtype] = LabelStudioResults.FirstMaskOf(response, 1024, 1024);
                    tier1Hits.Add(await ClickAsync(server.Url, body));
                }
            }
            var reencoded = server.Encoder.Runs - runsBefore;
            var ratio = Stats.Median(redisHits) / Stats.Median(tier1Hits);
            var note = reencoded == 0 ? "" : $" ({reencoded} encoder runs: NOT all Redis hits)";
            var (getAfter, getsAfter) = await StageAsync(server, "cache_get");
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"[redis-{dtype}] Redis read + decode (cache_get stage): {(getAfter - getBefore) * 1000 / Math.Max(1, getsAfter - getsBefore):F1} ms mean over {getsAfter - getsBefore}; embedding arrays allocated (not from the pool) during the {redisHits.Count} Redis hits: {pool.Allocated - allocatedBefore}"));
            _rows.Add(new Row($"Redis-hit click ÷ tier-1 click ({dtype}){note}", Ms(redisHits), Ms(tier1Hits), Ratio(ratio),
                dtype == "float16" ? "≤ 1.5" : "", dtype == "float16" ? ratio <= 1.5 && reencoded == 0 : null));
        }

        if (bytesPerImage.Count == 2 && masks.Count == 2)
        {
            var iou = Scenes.IoU(masks["float16"], masks["float32"]);
            _rows.Add(new Row("float16 vs float32 cache: bytes per image, mask IoU", $"{bytesPerImage["float16"]:N0} B",
                $"{bytesPerImage["float32"]:N0} B", $"IoU {iou:F4}", "", null));
        }
    }

    /// <summary>Sum (seconds) and count of one stage of <c>sam2_stage_seconds</c> on the server's /metrics.</summary>
    private async Task<(double Sum, long Count)> StageAsync(TestServer server, string stage) =>
        (await server.MetricAsync($"sam2_stage_seconds_sum{{stage=\"{stage}\"}}"), (long)await server.MetricAsync($"sam2_stage_seconds_count{{stage=\"{stage}\"}}"));

    private async Task<(double Ms, byte[] Body)> ClickWithBodyAsync(string url, string body)
    {
        var start = Stopwatch.GetTimestamp();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(url + "/predict", content);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"click failed: {(int)response.StatusCode}");
        return (elapsed, bytes);
    }

    // ------------------------------------------------------------------------------------------------ output

    private void Print(TimeSpan elapsed)
    {
        string[] header = ["scenario", "measured (median)", "baseline (median)", "ratio", "target", "met"];
        var cells = _rows.Select(r => new[] { r.Scenario, r.Measured, r.Baseline, r.Ratio, r.Target, r.Met switch { true => "yes", false => "NO", null => "" } }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Max(c => c[i].Length))).ToArray();
        string Line(string[] c) => "| " + string.Join(" | ", c.Select((s, i) => s.PadRight(widths[i]))) + " |";
        Console.WriteLine();
        Console.WriteLine(Line(header));
        Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var c in cells) Console.WriteLine(Line(c));
        Console.WriteLine();
        Console.WriteLine($"quick suite: {elapsed.TotalSeconds:F0} s; load average {StandInCost.LoadAverage()} at end");
    }

    private static string Ms(List<double> values) => $"{Stats.Median(values):F1} ms (n={values.Count})";

    private static string Ratio(double ratio) => ratio.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (_ls is not null) await _ls.DisposeAsync();
    }
}
