using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// Throughput against what the cores allow (issue 14): the decoder's CPU seconds per run measured single-threaded give the
/// core-bound rate, cores ÷ CPU-s per run; ONNX Runtime thread settings side by side on bare sessions; annotators over HTTP
/// on servers with different settings, interleaved. Rates are steady state: completions inside a window that starts after
/// every caller is busy and ends before any stops, so ramp-up and the last stragglers do not count as idle cores.
/// </summary>
internal sealed partial class QuickSuite
{
    private const double SettingsWindowSeconds = 4;
    private const double AnnotatorWindowSeconds = 6;
    private const double WarmSeconds = 1;

    /// <summary>One ONNX Runtime configuration of the decoder session.</summary>
    private sealed record SessionSetting(string Name, int Threads, bool AllowSpinning);

    private static readonly SessionSetting[] s_sessionSettings =
    [
        new("DECODER_THREADS=1", 1, true),
        new("DECODER_THREADS=0 (one per core), spinning", 0, true),
        new("DECODER_THREADS=0 (one per core), no spinning", 0, false),
    ];

    /// <summary>
    /// Bare decoder sessions, one per <see cref="s_sessionSettings"/>, on one embedding: per round and setting, sequential
    /// runs (wall and process CPU per run) then <paramref name="callers"/> threads calling at once for a fixed window. The
    /// core-bound rate comes from THREADS=1's sequential CPU per run. Nothing else runs in the process meanwhile.
    /// </summary>
    /// <returns>The core-bound rate in runs per second.</returns>
    private double DecoderSettings(string encoderPath, string decoderPath, int rounds = 3, int sequentialRuns = 6, int callers = 16)
    {
        using var encoder = new Sam2Encoder(encoderPath, new ModelOptions { Device = "cpu" }, NullLogger.Instance);
        var image = Scenes.Photo(1024, 1024);
        using var embedding = encoder.EncodeImage(image.Encoded);
        var prompt = new Prompt([new PromptPoint(image.Click.X, image.Click.Y, true)]);
        var decoders = s_sessionSettings
            .Select(s => new Sam2Decoder(decoderPath, new ModelOptions { Device = "cpu", AllowSpinning = s.AllowSpinning },
                new DecoderOptions { Threads = s.Threads }, NullLogger.Instance))
            .ToArray();
        try
        {
            foreach (var d in decoders)
            {
                for (var i = 0; i < 2; i++) d.Predict(embedding, prompt, 1024, 1024).Dispose();
            }

            var wall = s_sessionSettings.Select(_ => new List<double>()).ToArray();
            var cpu = s_sessionSettings.Select(_ => new List<double>()).ToArray();
            var rate = s_sessionSettings.Select(_ => new List<double>()).ToArray();
            var concurrentCpu = s_sessionSettings.Select(_ => new List<double>()).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < decoders.Length; k++)
                {
                    var s = (k + round) % decoders.Length; // rotate the order so drift spreads over the settings
                    var cpuStart = ProcessCpu();
                    var start = Stopwatch.GetTimestamp();
                    for (var i = 0; i < sequentialRuns; i++) decoders[s].Predict(embedding, prompt, 1024, 1024).Dispose();
                    wall[s].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds / sequentialRuns);
                    cpu[s].Add((ProcessCpu() - cpuStart).TotalMilliseconds / sequentialRuns);

                    var (runsPerSecond, cpuPerRun) = Concurrent(callers, () => decoders[s].Predict(embedding, prompt, 1024, 1024).Dispose());
                    rate[s].Add(runsPerSecond);
                    concurrentCpu[s].Add(cpuPerRun);
                }
            }

            var coreBound = Environment.ProcessorCount / (Stats.Median(cpu[0]) / 1000);
            _rows.Add(new Row($"core-bound decoder rate: {Environment.ProcessorCount} cores ÷ CPU per run (one thread, one caller)",
                $"{coreBound:F1} runs/s", $"{Stats.Median(cpu[0]):F1} ms CPU/run", "", "", null));
            for (var s = 0; s < s_sessionSettings.Length; s++)
            {
                var name = s_sessionSettings[s].Name;
                _rows.Add(new Row($"  decoder session {name}: one caller", $"{Stats.Median(wall[s]):F1} ms wall/run", $"{Stats.Median(cpu[s]):F1} ms CPU/run",
                    $"CPU ×{Stats.Median(cpu[s]) / Stats.Median(cpu[0]):F2}", "", null));
                var ratio = Stats.Median(rate[s]) / coreBound;
                var busy = Stats.Median(rate[s]) * Stats.Median(concurrentCpu[s]) / 1000 / Environment.ProcessorCount;
                _rows.Add(new Row($"  decoder session {name}: {callers} callers", $"{Stats.Median(rate[s]):F1} runs/s",
                    $"{Stats.Median(concurrentCpu[s]):F1} ms CPU/run, cores {busy:P0} busy", $"{Ratio(ratio)} (CPU eff. {Stats.Median(cpu[0]) / Stats.Median(concurrentCpu[s]):F2})", "", null));
            }
            Workers(decoderPath, embedding, image, rounds);
            return coreBound;
        }
        finally
        {
            foreach (var d in decoders) d.Dispose();
        }
    }

    /// <summary>
    /// WORKERS: one call with four objects (four boxes, one run each: the samexporter signature takes one prompt per run) on
    /// one-thread sessions with WORKERS 1, 2 and 4, and on the settings before issue 14 (two-thread session, WORKERS 2),
    /// interleaved.
    /// </summary>
    private void Workers(string decoderPath, ImageEmbedding embedding, Testing.PhotoScene image, int rounds)
    {
        (string Name, int Threads, int Workers)[] settings = [("WORKERS=1", 1, 1), ("WORKERS=2", 1, 2), ("WORKERS=4", 1, 4), ("before: DECODER_THREADS=0, WORKERS=2", 0, 2)];
        var (cx, cy) = (image.Click.X, image.Click.Y);
        var prompts = Enumerable.Range(0, 4)
            .Select(i => new Prompt([], new PromptBox(cx - 60 - 10 * i, cy - 60, cx + 60 + 10 * i, cy + 60)))
            .ToList();
        var decoders = settings
            .Select(s => new Sam2Decoder(decoderPath, new ModelOptions { Device = "cpu" }, new DecoderOptions { Threads = s.Threads, Workers = s.Workers }, NullLogger.Instance))
            .ToArray();
        try
        {
            foreach (var d in decoders) Dispose(d.PredictMany(embedding, prompts, 1024, 1024));
            var wall = settings.Select(_ => new List<double>()).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < decoders.Length; k++)
                {
                    var s = (k + round) % decoders.Length;
                    for (var i = 0; i < 3; i++)
                    {
                        var start = Stopwatch.GetTimestamp();
                        Dispose(decoders[s].PredictMany(embedding, prompts, 1024, 1024));
                        wall[s].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
                }
            }
            for (var s = 0; s < settings.Length; s++)
            {
                _rows.Add(new Row($"  one call with 4 boxes, {settings[s].Name}", $"{Stats.Median(wall[s]):F1} ms", $"WORKERS=1: {Stats.Median(wall[0]):F1} ms",
                    Ratio(Stats.Median(wall[s]) / Stats.Median(wall[0])), "", null));
            }
        }
        finally
        {
            foreach (var d in decoders) d.Dispose();
        }

        static void Dispose(MaskPrediction[] masks)
        {
            foreach (var m in masks) m.Dispose();
        }
    }

    /// <summary><paramref name="callers"/> dedicated threads call <paramref name="run"/> back to back; returns the steady-state
    /// completions per second and the process CPU per completion over the window.</summary>
    private static (double RunsPerSecond, double CpuMsPerRun) Concurrent(int callers, Action run)
    {
        var stop = 0;
        var inWindow = 0;
        var counting = 0;
        var threads = Enumerable.Range(0, callers).Select(_ => new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                run();
                if (Volatile.Read(ref counting) == 1) Interlocked.Increment(ref inWindow);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Thread.Sleep(TimeSpan.FromSeconds(WarmSeconds)); // a benchmark window, not synchronisation
        var cpuStart = ProcessCpu();
        var start = Stopwatch.GetTimestamp();
        Volatile.Write(ref counting, 1);
        Thread.Sleep(TimeSpan.FromSeconds(SettingsWindowSeconds));
        Volatile.Write(ref counting, 0);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var cpuMs = (ProcessCpu() - cpuStart).TotalMilliseconds;
        var completed = Volatile.Read(ref inWindow);
        Volatile.Write(ref stop, 1);
        threads.ForEach(t => t.Join());
        return (completed / seconds, completed == 0 ? double.NaN : cpuMs / completed);
    }

    /// <summary>One server configuration of the annotator scenario.</summary>
    private sealed record ServerSetting(string Name, IReadOnlyDictionary<string, string?> Settings);

    /// <summary>The defaults first, then the alternatives measured beside them.</summary>
    private static readonly ServerSetting[] s_serverSettings =
    [
        new("defaults", new Dictionary<string, string?>()),
        new("before (DECODER_THREADS=0, WORKERS=2)", new Dictionary<string, string?> { ["DECODER_THREADS"] = "0", ["WORKERS"] = "2" }),
    ];

    /// <summary>
    /// 1, 4 and 16 annotators, each clicking its own cached 1024×1024 image back to back (no think time), on every server in
    /// turn, for <paramref name="rounds"/> rounds. Latencies: every click; rate: completions inside the steady-state window.
    /// </summary>
    private async Task AnnotatorsAsync(IReadOnlyList<(ServerSetting Setting, TestServer Server)> servers, double coreBound, int rounds = 2)
    {
        const int Images = 16;
        var bodies = new string[Images];
        for (var i = 0; i < Images; i++)
        {
            var image = Scenes.Photo(1024, 1024, 100 + i);
            var uri = AddImage(image, $"annotator-{i}.jpg");
            bodies[i] = Click(uri, Interlocked.Increment(ref _taskIds), image);
            foreach (var (_, server) in servers) await ClickAsync(server.Url, bodies[i]); // encode and cache
        }

        foreach (var annotators in new[] { 1, 4, 16 })
        {
            var latencies = servers.Select(_ => new List<double>()).ToArray();
            var rates = servers.Select(_ => new List<double>()).ToArray();
            var cpuPerClick = servers.Select(_ => new List<double>()).ToArray();
            var busy = servers.Select(_ => new List<double>()).ToArray();
            var errors = new int[servers.Count];
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < servers.Count; k++)
                {
                    var s = (k + round) % servers.Count;
                    var (rate, cpuMs, clickLatencies, failed) = await AnnotatorWindowAsync(servers[s].Server.Url, bodies, annotators);
                    rates[s].Add(rate);
                    cpuPerClick[s].Add(cpuMs);
                    busy[s].Add(rate * cpuMs / 1000 / Environment.ProcessorCount);
                    latencies[s].AddRange(clickLatencies);
                    errors[s] += failed;
                }
            }

            for (var s = 0; s < servers.Count; s++)
            {
                var p50 = Stats.Percentile(latencies[s], 50);
                var p99 = Stats.Percentile(latencies[s], 99);
                var rate = Stats.Median(rates[s]);
                var ratio = rate / coreBound;
                var last = annotators == 16;
                // rate ÷ core-bound = (CPU per run single-threaded ÷ process CPU per click) × (process CPU ÷ all cores' time):
                // how much of the CPU a click wastes, times how much of the machine this process got.
                var efficiency = Environment.ProcessorCount / coreBound * 1000 / Stats.Median(cpuPerClick[s]);
                _rows.Add(new Row($"{annotators} annotator(s), {servers[s].Setting.Name}: {rate:F1} clicks/s, {errors[s]} errors",
                    $"p50 {p50:F0} ms, p99 {p99:F0} ms", $"{Stats.Median(cpuPerClick[s]):F1} ms CPU/click, cores {Stats.Median(busy[s]):P0} busy",
                    $"{Ratio(ratio)} (CPU eff. {efficiency:F2}), p99/p50 {p99 / p50:F2}",
                    last ? "≥ 0.85, p99 ≤ 3×p50, 0 errors" : "", last ? ratio >= 0.85 && p99 <= 3 * p50 && errors[s] == 0 : null));
            }
        }
    }

    /// <summary>
    /// <paramref name="annotators"/> annotators click back to back on their own images; after a warm-up, completions are
    /// counted for a fixed window, then everyone finishes the click in flight.
    /// </summary>
    /// <returns>Completions per second in the window, process CPU milliseconds per completion, every click's latency, errors.</returns>
    private async Task<(double Rate, double CpuMsPerClick, List<double> Latencies, int Errors)> AnnotatorWindowAsync(string url, string[] bodies, int annotators)
    {
        var latencies = new List<double>();
        var errors = 0;
        var inWindow = 0;
        var counting = 0;
        using var stop = new CancellationTokenSource();
        var clicking = Enumerable.Range(0, annotators).Select(async a =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var t = await ClickAsync(url, bodies[a % bodies.Length]);
                    lock (latencies) latencies.Add(t);
                    if (Volatile.Read(ref counting) == 1) Interlocked.Increment(ref inWindow);
                }
                catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }).ToList();
        await Task.Delay(TimeSpan.FromSeconds(WarmSeconds)); // a benchmark window, not synchronisation
        var cpuStart = ProcessCpu();
        var start = Stopwatch.GetTimestamp();
        Volatile.Write(ref counting, 1);
        await Task.Delay(TimeSpan.FromSeconds(AnnotatorWindowSeconds));
        Volatile.Write(ref counting, 0);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var cpuMs = (ProcessCpu() - cpuStart).TotalMilliseconds;
        await stop.CancelAsync();
        await Task.WhenAll(clicking);
        var completed = Volatile.Read(ref inWindow);
        return (completed / seconds, completed == 0 ? double.NaN : cpuMs / completed, latencies, errors);
    }

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }
}
