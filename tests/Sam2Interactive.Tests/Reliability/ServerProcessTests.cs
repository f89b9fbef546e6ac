using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// The built server (<c>dotnet sam2i.dll</c>) as a separate process, stopped by a real signal while annotators click and
/// an import is prefetched: what <see cref="ShutdownTests"/> shows in-process, through the .NET console lifetime's own
/// signal handling. In-flight clicks are answered, the process exits 0 within SHUTDOWN_TIMEOUT, no encode lock is left
/// in Redis, and the next start serves the clicked images from Redis without running its encoder.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ServerProcessTests
{
    private const int Clicks = 4;
    private const int Imports = 12;
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(20);

    /// <summary>A bound for start-up (models load and warm up), not an expectation.</summary>
    private static readonly TimeSpan s_startBound = TimeSpan.FromSeconds(120);

    [TestCase("TERM")]
    [TestCase("INT")]
    public async Task Signal_DuringClicksAndImport_ClicksAnsweredExitZeroNoLockNextStartReadsRedis(string signal)
    {
        using var redis = RedisServerProcess.Start();
        await using var ls = await LabelStudioStandIn.StartAsync();
        var images = Enumerable.Range(0, Clicks + Imports).Select(i => Traffic.AddImage(ls, "sig-" + signal, i, 160, 120)).ToList();

        List<(HttpStatusCode Status, string Body)> answers;
        using (var first = await ServerProcess.StartAsync(ls, redis, s_startBound))
        {
            // The last click's image download is held until the server has begun to stop (it no longer accepts
            // connections), so that click is in flight at the signal however fast the encodes are.
            var held = ls.Hold(images[Clicks - 1].Path);
            var (status, _) = await first.PostAsync("/prefetch", JsonSerializer.Serialize(new { uris = images.Skip(Clicks).Select(i => i.Path) }));
            Assert.That((int)status, Is.EqualTo(202));
            var clicks = images.Take(Clicks).Select(i => Task.Run(() => first.PostAsync("/predict", Traffic.ClickBody(i.Path, i.Scene)))).ToList();
            // Every click is inside the server once it has fetched that click's image from Label Studio.
            await Traffic.WaitForAsync(() => Task.FromResult(images.Take(Clicks).All(i => ls.LsRequests.Any(r => r.Path.StartsWith(i.Path, StringComparison.Ordinal)))),
                s_startBound, "every click's image to be fetched");
            await held.Arrived.WaitAsync(s_startBound);
            var inFlight = clicks.Count(c => !c.IsCompleted);

            var clock = Stopwatch.StartNew();
            first.Signal(signal);
            await Traffic.WaitForAsync(async () => !await first.AcceptsConnectionsAsync(), s_shutdownTimeout, $"sam2i to stop accepting connections after SIG{signal}");
            held.Release();
            var exited = await first.WaitForExitAsync(s_shutdownTimeout + TimeSpan.FromSeconds(10));
            var stopTime = clock.Elapsed;
            answers = (await Task.WhenAll(clicks)).ToList();

            TestContext.Out.WriteLine($"SIG{signal}: {inFlight} clicks in flight; exit {(exited ? first.ExitCode.ToString(CultureInfo.InvariantCulture) : "none")} after " +
                $"{stopTime.TotalMilliseconds:F0} ms; clicks: {string.Join(", ", answers.Select(a => (int)a.Status))}");
            Assert.That(inFlight, Is.GreaterThanOrEqualTo(1), "a click was in flight at the signal");
            Assert.That(exited, Is.True, $"the process exited after SIG{signal}. Output:\n{first.Output}");
            Assert.That(first.ExitCode, Is.EqualTo(0), first.Output);
            Assert.That(stopTime, Is.LessThanOrEqualTo(s_shutdownTimeout + TimeSpan.FromSeconds(10)), "within SHUTDOWN_TIMEOUT (+ process teardown)");
        }
        for (var i = 0; i < Clicks; i++)
        {
            Assert.That(answers[i].Status, Is.EqualTo(HttpStatusCode.OK), answers[i].Body);
            using var json = JsonDocument.Parse(answers[i].Body);
            var scene = images[i].Scene;
            var region = LabelStudioResults.FirstRegion(json.RootElement);
            Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(region, scene.Width, scene.Height), scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
        }
        Assert.That(redis.Command("KEYS", "*:lock"), Is.EqualTo("*0"), "no encode lock left in Redis");

        using var second = await ServerProcess.StartAsync(ls, redis, s_startBound);
        var runsBefore = await second.MetricAsync("sam2_encoder_runs_total");
        foreach (var (path, scene) in images.Take(Clicks))
        {
            var (status, body) = await second.PostAsync("/predict", Traffic.ClickBody(path, scene));
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        }
        Assert.That(await second.MetricAsync("sam2_encoder_runs_total"), Is.EqualTo(runsBefore), "the next start read the clicked images from Redis");
        second.Signal("TERM");
        Assert.That(await second.WaitForExitAsync(s_shutdownTimeout + TimeSpan.FromSeconds(10)), Is.True, second.Output);
    }

    /// <summary><c>dotnet sam2i.dll</c> (the Api project's build output, copied next to the tests) on a free port.</summary>
    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private ServerProcess(Process process, int port)
        {
            _process = process;
            Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(120) };
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public HttpClient Http { get; }

        public int ExitCode => _process.ExitCode;

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        public static async Task<ServerProcess> StartAsync(LabelStudioStandIn ls, RedisServerProcess redis, TimeSpan bound)
        {
            var models = StandInModelSet.Options(StandInFormat.SamExporter);
            var port = RedisServerProcess.FreePort();
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
            // A test run started in the background of a non-interactive shell (CI scripts, nohup) inherits SIGINT ignored,
            // exec keeps it ignored, and .NET then leaves it so (as shells expect of background jobs): the server would
            // never see the SIGINT this test sends. coreutils' env restores the default disposition before exec'ing dotnet.
            var info = new ProcessStartInfo("env")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            info.ArgumentList.Add("--default-signal=INT");
            info.ArgumentList.Add(dotnet);
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sam2i.dll"));
            info.ArgumentList.Add("--urls");
            info.ArgumentList.Add($"http://127.0.0.1:{port}");
            info.Environment["ENCODER_PATH"] = models.EncoderPath;
            info.Environment["DECODER_PATH"] = models.DecoderPath;
            info.Environment["LABEL_STUDIO_URL"] = ls.Url.ToString().TrimEnd('/');
            info.Environment["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.LegacyKey;
            info.Environment["REDIS_URL"] = redis.Url + "/0";
            info.Environment["SHUTDOWN_TIMEOUT"] = $"{s_shutdownTimeout.TotalSeconds:0}s";
            info.Environment["Logging__LogLevel__Default"] = "Warning";
            var server = new ServerProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"), port);
            try
            {
                await Traffic.WaitForAsync(async () =>
                {
                    if (server._process.HasExited) Assert.Fail($"sam2i exited with {server._process.ExitCode}:\n{server.Output}");
                    try
                    {
                        using var health = await server.Http.GetAsync("/health");
                        return health.StatusCode == HttpStatusCode.OK;
                    }
                    catch (HttpRequestException)
                    {
                        return false; // not listening yet
                    }
                }, bound, "sam2i to answer /health with 200");
                return server;
            }
            catch
            {
                server.Dispose();
                throw;
            }
        }

        public async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string body)
        {
            using var response = await Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        public async Task<double> MetricAsync(string sample)
        {
            foreach (var line in (await Http.GetStringAsync("/metrics")).Split('\n'))
            {
                if (line.StartsWith(sample + " ", StringComparison.Ordinal))
                    return double.Parse(line[(sample.Length + 1)..], CultureInfo.InvariantCulture);
            }
            return 0;
        }

        /// <summary>Whether a new connection is accepted (any answer to /health); false once Kestrel has stopped listening.</summary>
        public async Task<bool> AcceptsConnectionsAsync()
        {
            // A fresh client: a pooled keep-alive connection could still answer after the listener closed.
            using var probe = new HttpClient { BaseAddress = Http.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            try
            {
                using var response = await probe.GetAsync("/health");
                return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false; // refused (the listener is closed) or not answered
            }
        }

        /// <summary>Sends SIG<paramref name="name"/> (TERM, INT) to the server process only.</summary>
        public void Signal(string name)
        {
            using var kill = Process.Start("kill", ["-" + name, _process.Id.ToString(CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
            Assert.That(kill.ExitCode, Is.EqualTo(0), $"kill -{name}");
        }

        /// <summary>Waits for the exit, up to <paramref name="bound"/>; false when still running.</summary>
        public async Task<bool> WaitForExitAsync(TimeSpan bound)
        {
            using var cancel = new CancellationTokenSource(bound);
            try
            {
                await _process.WaitForExitAsync(cancel.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output)
            {
                if (_output.Length < 256 * 1024) _output.AppendLine(line);
            }
        }

        public void Dispose()
        {
            Http.Dispose();
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}
