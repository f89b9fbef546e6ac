using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>memory [--cache-mb N] [--soak SECONDS] [--clickers N] [--interval SECONDS] [--server PATH] [--env KEY=VALUE]…</c>: starts the
/// built server (<c>src/Api/bin/Release</c>) as its own process with the realistic stand-ins, drives it over HTTP
/// (<c>POST /api/v1/images</c> and <c>/segment</c>) and prints its resident memory (VmRSS, VmHWM from /proc/PID/status) after
/// start and warm-up, after 2 images, during one encode (peak), between encodes, and over a soak in which one client uploads
/// a new image after another (each clicked 3 times) while <c>--clickers</c> annotators (default 4) click the images already
/// encoded back to back (one line per interval). docs/scaling.md and docs/reliability.md quote its output.
/// </summary>
internal static class MemoryRun
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = MemoryArguments.Parse(args);
        var (encoder, decoder) = options.Bench.ResolveModels();
        var server = options.Server ?? FindServer();
        var port = RedisServerProcess.FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(server);
        info.Environment["ENCODER_PATH"] = encoder;
        info.Environment["DECODER_PATH"] = decoder;
        info.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        info.Environment["CACHE_MEMORY_MB"] = options.CacheMb.ToString(CultureInfo.InvariantCulture);
        info.Environment["LOG_LEVEL"] = "WARNING";
        if (options.Bench.Threads > 0) info.Environment["THREADS"] = options.Bench.Threads.ToString(CultureInfo.InvariantCulture);
        foreach (var (key, value) in options.Env) info.Environment[key] = value;

        Console.WriteLine($"server: dotnet {server}; models {encoder} ({new FileInfo(encoder).Length >> 20} MiB) | {decoder} ({new FileInfo(decoder).Length >> 20} MiB)");
        Console.WriteLine($"CACHE_MEMORY_MB={options.CacheMb}; env: {string.Join(' ', options.Env.Select(e => $"{e.Key}={e.Value}"))}");
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, load average {StandInCost.LoadAverage()}");
        using var process = Process.Start(info) ?? throw new InvalidOperationException("the server did not start");
        // A driver stopped with Ctrl+C or SIGTERM takes its server with it.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(process);
        Console.CancelKeyPress += (_, _) => Stop(process);
        var log = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(10) };
        try
        {
            await WaitReadyAsync(http, process, log);
            var pid = process.Id;
            Row("after start and warm-up", pid);

            var ids = new List<string>();
            for (var i = 0; i < 2; i++) ids.Add(await UploadAndClickAsync(http, i));
            Row("after 2 images", pid);

            // One encode with the peak reset just before it: VmHWM is then the peak of the encode alone.
            var reset = ProcessMemory.ResetPeak(pid);
            var before = ProcessMemory.Resident(pid);
            ids.Add(await UploadAndClickAsync(http, 2));
            Console.WriteLine($"during an encode: peak {ProcessMemory.MiB(ProcessMemory.Peak(pid))} ({(reset ? "VmHWM reset before it" : "VmHWM since start: clear_refs refused")}), {ProcessMemory.MiB(ProcessMemory.Peak(pid) - before)} above the {ProcessMemory.MiB(before)} before it");
            Row("between encodes (after the 3rd image)", pid);

            if (options.SoakSeconds > 0) await SoakAsync(http, pid, ids, options);
            Console.WriteLine($"load average at end {StandInCost.LoadAverage()}");
            return 0;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }
    }

    private static async Task SoakAsync(HttpClient http, int pid, List<string> ids, MemoryArguments options)
    {
        Console.WriteLine($"soak: {options.SoakSeconds} s, new images one after another (upload, 3 clicks) while {options.Clickers} annotators click encoded ones back to back; a line per {options.IntervalSeconds} s");
        // Per line: the interval's lowest and highest sample (every 250 ms; the highest is an encode's peak when one ran) and
        // the RSS right after the newest image's upload and clicks, when no encode runs: the between-encodes series.
        Console.WriteLine("     t | images | VmRSS now | interval min | interval max | after last image | VmHWM");
        var watch = Stopwatch.StartNew();
        var next = (double)options.IntervalSeconds;
        var variant = ids.Count;
        long maxRss = 0, firstThird = 0, lastThird = 0, afterImage = ProcessMemory.Resident(pid) ?? 0;
        long maxBetween = 0, firstThirdBetween = 0, lastThirdBetween = 0;
        long intervalMin = long.MaxValue, intervalMax = 0;
        using var sampler = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            while (!sampler.IsCancellationRequested)
            {
                var t = watch.Elapsed.TotalSeconds;
                var rss = ProcessMemory.Resident(pid) ?? 0;
                maxRss = Math.Max(maxRss, rss);
                intervalMin = Math.Min(intervalMin, rss);
                intervalMax = Math.Max(intervalMax, rss);
                if (t < options.SoakSeconds / 3.0) firstThird = Math.Max(firstThird, rss);
                if (t >= 2 * options.SoakSeconds / 3.0) lastThird = Math.Max(lastThird, rss);
                if (t >= next)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{t,6:F0} | {Volatile.Read(ref variant),6} | {ProcessMemory.MiB(rss),9} | {ProcessMemory.MiB(intervalMin),12} | {ProcessMemory.MiB(intervalMax),12} | {ProcessMemory.MiB(Interlocked.Read(ref afterImage)),16} | {ProcessMemory.MiB(ProcessMemory.Peak(pid))}"));
                    (intervalMin, intervalMax) = (long.MaxValue, 0);
                    next += options.IntervalSeconds;
                }
                try { await Task.Delay(250, sampler.Token); } catch (OperationCanceledException) { }
            }
        });
        var clicks = 0L;
        var known = ids.ToArray();
        var annotators = Enumerable.Range(0, options.Clickers).Select(a => Task.Run(async () =>
        {
            var own = new Random(a);
            while (watch.Elapsed.TotalSeconds < options.SoakSeconds)
            {
                var snapshot = Volatile.Read(ref known);
                if (await ClickAsync(http, snapshot[own.Next(snapshot.Length)], evictedIsFine: true)) Interlocked.Increment(ref clicks);
            }
        })).ToList();
        while (watch.Elapsed.TotalSeconds < options.SoakSeconds)
        {
            ids.Add(await UploadAndClickAsync(http, variant, clicks: 3));
            Volatile.Write(ref variant, variant + 1);
            var between = ProcessMemory.Resident(pid) ?? 0;
            Interlocked.Exchange(ref afterImage, between);
            maxBetween = Math.Max(maxBetween, between);
            var t = watch.Elapsed.TotalSeconds;
            if (t < options.SoakSeconds / 3.0) firstThirdBetween = Math.Max(firstThirdBetween, between);
            if (t >= 2 * options.SoakSeconds / 3.0) lastThirdBetween = Math.Max(lastThirdBetween, between);
            // Annotators click the newest images, which the cache holds (one evicted meanwhile answers 404 and is not counted).
            Volatile.Write(ref known, ids.TakeLast(Math.Max(1, options.CacheMb / 16 - 1)).ToArray());
        }
        await Task.WhenAll(annotators);
        await sampler.CancelAsync();
        await sampling;
        Console.WriteLine($"soak: {variant} images, {Interlocked.Read(ref clicks)} annotator clicks; RSS max {ProcessMemory.MiB(maxRss)} (first third {ProcessMemory.MiB(firstThird)}, last third {ProcessMemory.MiB(lastThird)}); between encodes max {ProcessMemory.MiB(maxBetween)} (first third {ProcessMemory.MiB(firstThirdBetween)}, last third {ProcessMemory.MiB(lastThirdBetween)})");
        Row("after the soak", pid);
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static void Row(string what, int pid) =>
        Console.WriteLine($"{what}: VmRSS {ProcessMemory.MiB(ProcessMemory.Resident(pid))}, VmHWM {ProcessMemory.MiB(ProcessMemory.Peak(pid))}");

    /// <summary>Uploads the 1024×1024 photo of <paramref name="variant"/> (distinct bytes, so a new encode) and clicks it.</summary>
    private static async Task<string> UploadAndClickAsync(HttpClient http, int variant, int clicks = 1)
    {
        var photo = Scenes.Photo(1024, 1024, variant);
        using var content = new ByteArrayContent(photo.Encoded);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var response = await http.PostAsync("/api/v1/images", content);
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"upload answered {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        var id = json.RootElement.GetProperty("image_id").GetString()!;
        for (var i = 0; i < clicks; i++) await ClickAsync(http, id);
        return id;
    }

    /// <returns>Whether the click was answered (false: 404 for an evicted image, when <paramref name="evictedIsFine"/>).</returns>
    private static async Task<bool> ClickAsync(HttpClient http, string id, bool evictedIsFine = false)
    {
        using var content = new StringContent("""{"points":[[700,700]],"output":["coco_rle"]}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"/api/v1/images/{id}/segment", content);
        if (response.StatusCode == HttpStatusCode.OK) return true;
        if (evictedIsFine && response.StatusCode == HttpStatusCode.NotFound) return false;
        throw new InvalidOperationException($"segment answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task WaitReadyAsync(HttpClient http, Process process, StringBuilder log)
    {
        var start = Stopwatch.StartNew();
        while (start.Elapsed < TimeSpan.FromMinutes(5))
        {
            if (process.HasExited)
            {
                lock (log) throw new InvalidOperationException($"the server exited with {process.ExitCode}:\n{log}");
            }
            try
            {
                using var response = await http.GetAsync("/health");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("the server was not ready within 5 minutes");
    }

    /// <summary>src/Api/bin/Release/net10.0/linux-x64/sam2i.dll of the repository this driver was built in.</summary>
    private static string FindServer()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Sam2Interactive.sln"))) continue;
            var bin = Path.Combine(dir.FullName, "src", "Api", "bin", "Release");
            var dll = Directory.Exists(bin) ? Directory.EnumerateFiles(bin, "sam2i.dll", SearchOption.AllDirectories).FirstOrDefault() : null;
            return dll ?? throw new ArgumentException($"no built server under {bin}: run `dotnet build -c Release src/Api` first, or pass --server PATH");
        }
        throw new ArgumentException("not inside the repository: pass --server PATH/sam2i.dll");
    }
}

/// <summary>Options of <see cref="MemoryRun"/>; the shared ones (<c>--encoder/--decoder/--threads/--small</c>) pass through.</summary>
internal sealed class MemoryArguments
{
    public required BenchArguments Bench { get; init; }
    public int CacheMb { get; private set; } = 384;
    public int SoakSeconds { get; private set; }
    public int IntervalSeconds { get; private set; } = 20;
    public int Clickers { get; private set; } = 4;
    public string? Server { get; private set; }
    public List<KeyValuePair<string, string>> Env { get; } = [];

    public static MemoryArguments Parse(string[] args)
    {
        var rest = new List<string>();
        int cache = 384, soak = 0, interval = 20, clickers = 4;
        string? server = null;
        var env = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--cache-mb": cache = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--soak": soak = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--interval": interval = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--clickers": clickers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--server": server = Next(); break;
                case "--env":
                    var pair = Next();
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0) throw new ArgumentException($"--env takes KEY=VALUE, not '{pair}'");
                    env.Add(new(pair[..eq], pair[(eq + 1)..]));
                    break;
                default: rest.Add(args[i]); break;
            }
        }
        var result = new MemoryArguments { Bench = BenchArguments.Parse(rest), CacheMb = cache, SoakSeconds = soak, IntervalSeconds = interval, Clickers = clickers, Server = server };
        result.Env.AddRange(env);
        return result;
    }
}
