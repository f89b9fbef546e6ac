using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Sam2Interactive.Api;
using Sam2Interactive.Api.Automatic;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Decoder.Automatic;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>auto</c>: SAM2's automatic mask generator. (1) Time per image for 16×16 and 32×32 grids, per decoder format, from a
/// held embedding (the encoder run is not counted). (2) Clicks per second and their latency for one annotator clicking back
/// to back, idle and while the server pre-annotates other images at the automatic priority. Realistic stand-ins by default.
/// </summary>
internal static class AutoSuite
{
    private const int Width = 1024, Height = 768;

    /// <param name="grids">Grid sizes for the time per image; empty to measure only the clicks.</param>
    public static async Task<int> RunAsync(BenchArguments args, IReadOnlyList<int> grids)
    {
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, load average {StandInCost.LoadAverage()} at start");
        var size = args.Small ? StandInSize.Small : StandInSize.Realistic;
        var root = Path.Combine(Path.GetTempPath(), "sam2i-bench-standins", size.ToString().ToLowerInvariant());
        var formats = args.Encoder is not null
            ? [("given", (args.Encoder, args.Decoder!))]
            : new[] { StandInFormat.SamExporter, StandInFormat.OnnxCommunity }
                .Select(f => (StandInModels.FolderName(f), StandInModels.Write(Path.Combine(root, StandInModels.FolderName(f)), f, size: size))).ToArray();

        var rows = new List<string>();
        foreach (var (name, (encoderPath, decoderPath)) in grids.Count == 0 ? [] : formats)
        {
            rows.AddRange(await PerImageAsync(name, encoderPath, decoderPath, grids, args.Threads));
        }
        var (clickEncoder, clickDecoder) = formats[0].Item2;
        rows.AddRange(await ClicksDuringPreAnnotationAsync(clickEncoder, clickDecoder, args.Threads));

        Console.WriteLine();
        Console.WriteLine($"load average at end: {StandInCost.LoadAverage()}");
        foreach (var row in rows) Console.WriteLine(row);
        return 0;
    }

    /// <summary>One image, each grid: wall time of <see cref="AutomaticMaskGenerator.GenerateAsync"/> with SAM2's defaults otherwise.</summary>
    private static async Task<List<string>> PerImageAsync(string format, string encoderPath, string decoderPath, IReadOnlyList<int> grids, int threads)
    {
        var model = new ModelOptions { EncoderPath = encoderPath, DecoderPath = decoderPath, Device = "cpu", Threads = threads };
        using var services = new ServiceCollection().AddLogging().AddMetrics().AddEncoder(model).AddDecoder(new DecoderOptions()).BuildServiceProvider();
        var encoder = services.GetRequiredService<Sam2Encoder>();
        var decoder = services.GetRequiredService<Sam2Decoder>();
        using var stages = new StageTimings(services.GetRequiredService<IMeterFactory>());
        var image = Scenes.Photo(Width, Height);
        using var embedding = encoder.EncodeImage(image.Encoded);
        using (decoder.Predict(embedding, new Prompt([new PromptPoint(image.Click.X, image.Click.Y, true)]), Width, Height))
        {
            // warm-up
        }

        var rows = new List<string>();
        foreach (var grid in grids)
        {
            var decodeBefore = stages.Milliseconds("decode");
            using var result = await new AutomaticMaskGenerator(decoder).GenerateAsync(embedding, new AutomaticMaskOptions { PointsPerSide = grid });
            var s = result.Stats;
            var decodeMs = stages.Milliseconds("decode") - decodeBefore;
            var row = FormattableString.Invariant(
                $"{format,-15} {grid,2}×{grid,-2} {Width}×{Height}: {s.Elapsed.TotalSeconds,7:F1} s per image; {s.DecoderRuns,5} decoder runs ") + FormattableString.Invariant(
                $"({decodeMs / s.DecoderRuns,6:F0} ms each, {decodeMs / 1000,6:F1} s in session runs summed over workers); {s.Candidates} candidates, ") + FormattableString.Invariant(
                $"{s.AfterPredIou} after pred_iou, {s.AfterStability} after stability, {s.Masks} masks");
            Console.WriteLine(row);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>
    /// A server (Kestrel, the given models, AUTO_POINTS_PER_SIDE=16) with one cached 1024×1024 image that one annotator
    /// clicks, idle and while the server pre-annotates two other 1024×768 images over and over (fetch and encode the first
    /// time, then generate, at EncodePriority.Automatic, as <c>annotate</c> does). Two click rhythms: back to back (the worst
    /// case for the background work, which only runs between clicks) and one click per second (an annotator's pace).
    /// </summary>
    private static async Task<List<string>> ClicksDuringPreAnnotationAsync(string encoderPath, string decoderPath, int threads)
    {
        await using var ls = await LabelStudioStandIn.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ENCODER_PATH"] = encoderPath,
            ["DECODER_PATH"] = decoderPath,
            ["DEVICE"] = "cpu",
            ["LABEL_STUDIO_URL"] = ls.Url.ToString().TrimEnd('/'),
            ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.LegacyKey,
            ["AUTO_POINTS_PER_SIDE"] = "16",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (threads > 0) settings["THREADS"] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var app = Server.Build(["--urls", "http://127.0.0.1:0"], settings);
        await app.StartAsync();
        await using var stop = new AsyncDisposer(async () =>
        {
            await app.StopAsync();
            await app.DisposeAsync();
        });
        var url = app.Urls.First().TrimEnd('/');
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        while ((await http.GetAsync(url + "/health")).StatusCode != HttpStatusCode.OK) await Task.Delay(100);

        var clickImage = Scenes.Photo(1024, 1024);
        var body = LabelStudioBodies.Click(ls.AddUpload("1", "click.jpg", clickImage.Encoded), clickImage.Click.X, clickImage.Click.Y, 1024, 1024, 1,
            LabelStudioBodies.CompactLabelConfig, "object");
        async Task<double> Click()
        {
            var start = Stopwatch.GetTimestamp();
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(url + "/predict", content);
            await response.Content.ReadAsByteArrayAsync();
            if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"click answered {(int)response.StatusCode}");
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        await Click(); // fetch + encode

        var decoder = app.Services.GetRequiredService<Sam2Decoder>();
        async Task<(List<double> Latencies, double Seconds, long DecoderRuns)> ClickFor(TimeSpan window, TimeSpan think)
        {
            var latencies = new List<double>();
            var runs = decoder.Runs;
            var wall = Stopwatch.StartNew();
            while (wall.Elapsed < window)
            {
                latencies.Add(await Click());
                if (think > TimeSpan.Zero) await Task.Delay(think);
            }
            return (latencies, wall.Elapsed.TotalSeconds, decoder.Runs - runs - latencies.Count);
        }

        var rows = new List<string>();
        string Line(string what, (List<double> Latencies, double Seconds, long DecoderRuns) sample) => FormattableString.Invariant(
            $"{what}: {sample.Latencies.Count / sample.Seconds:F2} clicks/s, p50 {Stats.Percentile(sample.Latencies, 50):F0} ms, p99 {Stats.Percentile(sample.Latencies, 99):F0} ms (n={sample.Latencies.Count}); background decoder runs {sample.DecoderRuns / sample.Seconds:F2}/s");
        void Report(string line)
        {
            Console.WriteLine(line);
            rows.Add(line);
        }

        var oneMinute = TimeSpan.FromSeconds(60);
        Report(Line("clicks back to back, idle server", await ClickFor(oneMinute, TimeSpan.Zero)));
        Report(Line("clicks at 1/s think time, idle server", await ClickFor(oneMinute, TimeSpan.FromSeconds(1))));

        var annotator = app.Services.GetRequiredService<AutomaticAnnotator>();
        var target = app.Services.GetRequiredService<LabelConfigParser>().Parse(LabelStudioBodies.CompactLabelConfig).Config!.Targets[0];
        var tasks = Enumerable.Range(0, 2).Select(i => new LabelStudioTask
        {
            Id = 500 + i,
            Data = new() { ["image"] = System.Text.Json.JsonSerializer.SerializeToElement(ls.AddUpload("1", $"auto-{i}.jpg", Scenes.Photo(1024, 768, 200 + i).Encoded)) },
        }).ToList();
        using var cancel = new CancellationTokenSource();
        var images = 0;
        var work = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; ; i++)
                {
                    await annotator.PredictAsync(tasks[i % tasks.Count], target, EncodePriority.Automatic, cancel.Token);
                    Interlocked.Increment(ref images);
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
        });
        // Let the background work get going (its first encode) before measuring.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var preempted = decoder.Priority.Preemptions;
        Report(Line("clicks back to back, while pre-annotating", await ClickFor(oneMinute, TimeSpan.Zero)));
        Report(Line("clicks at 1/s think time, while pre-annotating", await ClickFor(TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(1))));
        await cancel.CancelAsync();
        await work;
        Report(FormattableString.Invariant($"  background: {images} image(s) pre-annotated during the busy windows; {decoder.Priority.Preemptions - preempted} background decoder runs preempted by clicks"));
        return rows;
    }

    private sealed class AsyncDisposer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }
}
