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
        foreach (var (name, (encoderPath, decoderPath)) in formats)
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
    /// A server (Kestrel, the given models, AUTO_POINTS_PER_SIDE=16) with one cached 1024×1024 image: one annotator clicks it
    /// back to back for 20 s idle, then while the server pre-annotates three other images (fetch, encode and generate each, at
    /// EncodePriority.Automatic, as <c>annotate</c> does).
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
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
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

        async Task<(List<double> Latencies, double Seconds)> ClickFor(Func<bool> keepGoing)
        {
            var latencies = new List<double>();
            var wall = Stopwatch.StartNew();
            while (keepGoing()) latencies.Add(await Click());
            return (latencies, wall.Elapsed.TotalSeconds);
        }

        var idleUntil = Stopwatch.StartNew();
        var idle = await ClickFor(() => idleUntil.Elapsed < TimeSpan.FromSeconds(20));

        var annotator = app.Services.GetRequiredService<AutomaticAnnotator>();
        var parser = app.Services.GetRequiredService<LabelConfigParser>();
        var target = parser.Parse(LabelStudioBodies.CompactLabelConfig).Config!.Targets[0];
        var priority = app.Services.GetRequiredService<Sam2Decoder>().Priority;
        var preemptedBefore = priority.Preemptions;
        var background = Stopwatch.StartNew();
        var work = Task.Run(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                var uri = ls.AddUpload("1", $"auto-{i}.jpg", Scenes.Photo(1024, 768, 200 + i).Encoded);
                var task = new LabelStudioTask { Id = 500 + i, Data = new() { ["image"] = System.Text.Json.JsonSerializer.SerializeToElement(uri) } };
                await annotator.PredictAsync(task, target, EncodePriority.Automatic, CancellationToken.None);
            }
        });
        var busy = await ClickFor(() => !work.IsCompleted);
        await work;
        var backgroundSeconds = background.Elapsed.TotalSeconds;

        string Line(string what, (List<double> Latencies, double Seconds) sample) => FormattableString.Invariant(
            $"{what}: {sample.Latencies.Count / sample.Seconds:F2} clicks/s, p50 {Stats.Percentile(sample.Latencies, 50):F0} ms, p99 {Stats.Percentile(sample.Latencies, 99):F0} ms (n={sample.Latencies.Count})");
        var rows = new List<string>
        {
            Line("clicks, idle server", idle),
            Line("clicks while pre-annotating 3 images (16×16)", busy),
            FormattableString.Invariant($"  pre-annotation of 3 images (fetch, encode, generate) took {backgroundSeconds:F0} s meanwhile; {priority.Preemptions - preemptedBefore} background decoder runs preempted by clicks"),
        };
        foreach (var r in rows) Console.WriteLine(r);
        return rows;
    }

    private sealed class AsyncDisposer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }
}
