using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.Cli;

/// <summary>
/// <c>prefetch --project ID [--server URL] [--limit N] [--unlabeled-only]</c>: pages through a project's tasks and hands
/// their images to a running backend's <c>POST /prefetch</c>, never more at a time than its queue has room for
/// (<c>sam2_prefetch_queue_capacity</c> − <c>sam2_prefetch_queue_depth</c> from <c>/metrics</c>), so nothing is dropped.
/// The server skips images it already holds and says so, so a second run encodes nothing. Progress lines on standard
/// output; Ctrl+C stops after the current batch, and what was queued keeps encoding on the server.
/// </summary>
internal static class PrefetchCommand
{
    private const int PageSize = 100;

    public static Command Create()
    {
        var project = new Option<long>("--project") { Description = "Label Studio project id.", Required = true };
        var server = new Option<string>("--server") { Description = "URL of the running sam2i server.", DefaultValueFactory = _ => "http://localhost:9090" };
        var limit = new Option<int?>("--limit") { Description = "Prefetch at most this many tasks." };
        var unlabeledOnly = new Option<bool>("--unlabeled-only") { Description = "Skip tasks that already have an annotation." };
        var command = new Command("prefetch", "Encode a whole Label Studio project's images ahead of the first click, through a running server (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY).")
        {
            project, server, limit, unlabeledOnly,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var settings = Sam2Settings.Read(new ConfigurationBuilder().AddEnvironmentVariables().Build());
                var options = new PrefetchOptions(parse.GetValue(project), parse.GetValue(server)!, parse.GetValue(limit), parse.GetValue(unlabeledOnly));
                return await RunAsync(settings, options, SettingReader.FromEnvironment(), Console.Out, ct);
            }
            catch (Exception e) when (e is SettingException or LabelStudioApiException or ArgumentException or HttpRequestException)
            {
                await Console.Error.WriteLineAsync("prefetch: " + e.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>Runs one prefetch; returns 0 when every image is held, 1 when some failed, 130 when cancelled.</summary>
    internal static async Task<int> RunAsync(Sam2Settings settings, PrefetchOptions options, SettingReader reader, TextWriter output,
        CancellationToken cancellationToken, TimeSpan? pollInterval = null)
    {
        if (options.Limit is < 1) throw new ArgumentException("--limit must be at least 1");
        using var api = new LabelStudioApi(settings.LabelStudio);
        if (!api.IsConfigured) throw new ArgumentException("LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY must be set to read the project's tasks");
        using var server = new PrefetchServer(options.Server, reader);
        var poll = pollInterval ?? TimeSpan.FromMilliseconds(250);

        var project = await api.GetProjectAsync(options.Project, cancellationToken).ConfigureAwait(false);
        var config = LabelConfigParser.ParseUncached(project.LabelConfig ?? "");
        if (config.Config is not { } labelConfig) throw new ArgumentException($"project {options.Project}: {config.Problem}");
        var before = await server.MetricsAsync(cancellationToken).ConfigureAwait(false);
        var capacity = (int)Math.Max(1, before.Capacity);
        await output.WriteLineAsync(Invariant($"prefetch: project {options.Project} \"{project.Title}\" via {options.Server} (prefetch queue {capacity})")).ConfigureAwait(false);

        var progress = new Progress(output, Stopwatch.GetTimestamp());
        try
        {
            var pending = new Queue<LabelStudioTask>();
            var key = labelConfig.Targets[0].ValueVariable;
            for (var page = 1; ; page++)
            {
                var tasks = await api.ListTasksAsync(options.Project, page, PageSize, cancellationToken).ConfigureAwait(false);
                progress.Total = options.Limit is { } l ? Math.Min(l, tasks.Total) : tasks.Total;
                foreach (var task in tasks.Tasks)
                {
                    if (options.Limit is { } max && progress.Listed >= max) break;
                    progress.Listed++;
                    if (options.UnlabeledOnly && (task.IsLabeled || task.TotalAnnotations > 0))
                    {
                        progress.Skipped++;
                        continue;
                    }
                    var uri = LabelStudioEndpoints.ImageUri(task.ToTask(), labelConfig.Targets[0]);
                    if (uri is null) progress.NoImage++;
                    // Only the first Image's value: one task is one queue entry, so the room computed below holds.
                    else pending.Enqueue(new LabelStudioTask { Id = task.Id, Data = new() { [key ?? "image"] = JsonSerializer.SerializeToElement(uri, LabelStudioJsonContext.Default.String) } });
                }
                // Send while the queue has room; wait for it to drain otherwise.
                while (pending.Count > 0)
                {
                    var metrics = await server.MetricsAsync(cancellationToken).ConfigureAwait(false);
                    progress.Update(metrics, before);
                    var room = capacity - (int)metrics.Depth;
                    if (room <= 0)
                    {
                        await progress.PrintAsync().ConfigureAwait(false);
                        await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    var batch = new List<LabelStudioTask>(Math.Min(room, pending.Count));
                    while (batch.Count < room && pending.Count > 0) batch.Add(pending.Dequeue());
                    var answer = await server.PrefetchAsync(batch, project.LabelConfig, cancellationToken).ConfigureAwait(false);
                    progress.Queued += answer.Queued;
                    progress.Cached += answer.Cached;
                    await progress.PrintAsync().ConfigureAwait(false);
                }
                if ((options.Limit is { } lim && progress.Listed >= lim) || tasks.Tasks.Count < PageSize || (long)page * PageSize >= tasks.Total) break;
            }
            // Wait until everything queued by this run is encoded (or failed).
            while (true)
            {
                var metrics = await server.MetricsAsync(cancellationToken).ConfigureAwait(false);
                progress.Update(metrics, before);
                // Nothing waiting and nothing in hand: every request queued by this run has finished.
                if (metrics.Depth == 0 && metrics.Active == 0)
                {
                    progress.Finish();
                    break;
                }
                await progress.PrintAsync().ConfigureAwait(false);
                await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await output.WriteLineAsync(Invariant($"prefetch: stopped; {progress.Queued} image(s) queued so far keep encoding on the server; run again to continue")).ConfigureAwait(false);
            return 130;
        }
        await progress.PrintAsync(force: true).ConfigureAwait(false);
        await output.WriteLineAsync(Invariant(
            $"prefetch: done: {progress.Listed} task(s) listed, {progress.Encoded} encoded, {progress.Cached} already cached, {progress.Failed} failed, {progress.NoImage} without an image, {progress.Skipped} skipped as labeled, in {progress.Elapsed.TotalSeconds:0.0} s"))
            .ConfigureAwait(false);
        return progress.Failed == 0 ? 0 : 1;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The counts a progress line shows; encoded and failed are the server's counters since this run started.</summary>
    private sealed class Progress(TextWriter output, long started)
    {
        private string? _last;

        public long Total { get; set; }

        public long Listed { get; set; }

        public long Queued { get; set; }

        public long Cached { get; set; }

        public long Skipped { get; set; }

        public long NoImage { get; set; }

        public long Encoded { get; private set; }

        public long Failed { get; private set; }

        public long Done => Encoded + Failed;

        public TimeSpan Elapsed => Stopwatch.GetElapsedTime(started);

        public void Update(PrefetchMetrics now, PrefetchMetrics before)
        {
            // Other traffic (webhooks, opened tasks) may complete too: never count more than this run queued.
            Failed = Math.Min(Queued, (long)(now.Failed - before.Failed));
            Encoded = Math.Min(Queued - Failed, (long)(now.Completed - before.Completed));
        }

        /// <summary>Everything this run queued has finished: what did not fail is held now.</summary>
        public void Finish() => Encoded = Queued - Failed;

        /// <summary>Prints a progress line when a count changed (or <paramref name="force"/>).</summary>
        public async Task PrintAsync(bool force = false)
        {
            var seconds = Elapsed.TotalSeconds;
            var rate = seconds > 0 ? Encoded / seconds : 0;
            var left = Queued - Done + Math.Max(0, Total - Listed);
            var eta = rate > 0 ? Invariant($"{left / rate:0} s left") : "time left unknown";
            var counts = Invariant($"listed {Listed}/{Total}, queued {Queued}, encoded {Encoded}, already cached {Cached}, failed {Failed}");
            if (!force && counts == _last) return;
            _last = counts;
            await output.WriteLineAsync(Invariant($"prefetch: {counts}, {rate:0.0} images/s, {eta}")).ConfigureAwait(false);
        }
    }

    private readonly record struct PrefetchMetrics(double Depth, double Capacity, double Completed, double Failed, double Active);

    /// <summary>The running server: <c>GET /metrics</c> and <c>POST /prefetch</c> (Basic auth from BASIC_AUTH_USER/PASS when set).</summary>
    private sealed class PrefetchServer : IDisposable
    {
        private readonly HttpClient _http;

        public PrefetchServer(string url, SettingReader settings)
        {
            if (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var baseUrl) || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException($"--server must be an absolute http(s) URL, not '{url}'");
            _http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
            if (settings.Text("BASIC_AUTH_USER") is { } user && settings.Text("BASIC_AUTH_PASS") is { } pass)
                _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + pass)));
        }

        public async Task<PrefetchMetrics> MetricsAsync(CancellationToken cancellationToken)
        {
            var text = await _http.GetStringAsync("metrics", cancellationToken).ConfigureAwait(false);
            double depth = 0, capacity = 0, completed = 0, failed = 0, active = 0;
            var found = false;
            foreach (var line in text.Split('\n'))
            {
                if (Sample(line, "sam2_prefetch_queue_depth") is { } d) depth = d;
                else if (Sample(line, "sam2_prefetch_queue_capacity") is { } c) (capacity, found) = (c, true);
                else if (Sample(line, "sam2_prefetch_completed_total") is { } n) completed = n;
                else if (Sample(line, "sam2_prefetch_failed_total") is { } f) failed = f;
                else if (Sample(line, "sam2_prefetch_active") is { } a) active = a;
            }
            return found ? new PrefetchMetrics(depth, capacity, completed, failed, active)
                : throw new HttpRequestException("the server's /metrics has no sam2_prefetch_queue_capacity: is --server a sam2i server of this version?");
        }

        public async Task<PrefetchResponse> PrefetchAsync(List<LabelStudioTask> batch, string? labelConfig, CancellationToken cancellationToken)
        {
            // Tasks, not bare URIs: cloud-storage images resolve through Label Studio's presign call, which needs the task id.
            var body = new PrefetchRequest { Tasks = batch, LabelConfig = labelConfig };
            using var response = await _http.PostAsJsonAsync("prefetch", body, LabelStudioJsonContext.Default.PrefetchRequest, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var error = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                throw new HttpRequestException(Invariant($"the server answered HTTP {(int)response.StatusCode} to POST /prefetch: {error}"));
            }
            return await response.Content.ReadFromJsonAsync(LabelStudioJsonContext.Default.PrefetchResponse, cancellationToken).ConfigureAwait(false)
                ?? throw new HttpRequestException("the server's /prefetch answer is empty");
        }

        private static double? Sample(string line, string name) =>
            line.StartsWith(name + " ", StringComparison.Ordinal) && double.TryParse(line.AsSpan(name.Length + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;

        public void Dispose() => _http.Dispose();
    }
}

/// <param name="Server">The running server's base URL.</param>
internal sealed record PrefetchOptions(long Project, string Server, int? Limit = null, bool UnlabeledOnly = false);
