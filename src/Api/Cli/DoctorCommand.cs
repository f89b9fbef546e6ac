using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using StackExchange.Redis;

namespace Sam2Interactive.Api.Cli;

/// <summary>
/// <c>doctor --project ID [--label-studio-url URL] [--api-key KEY] [--backend-url URL] [--json] [--fix]</c>: checks, in
/// order, what stops a Label Studio project from getting masks (settings, Label Studio and the key, the labeling
/// configuration, the ML backend entry, the webhook, one task end to end) and prints one line per check,
/// <c>pass|warn|fail  check: detail</c>, with the fix under each warn and fail. <c>--fix</c> repairs only what is the
/// backend's own business (the TASKS_CREATED webhook, interactive pre-annotations); never the labeling configuration.
/// Exit code 0 when nothing failed (a failure repaired by --fix does not count), 1 otherwise, 2 on bad arguments.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var project = new Option<long>("--project") { Description = "Label Studio project id.", Required = true };
        var url = new Option<string?>("--label-studio-url") { Description = "Label Studio URL (default LABEL_STUDIO_URL)." };
        var key = new Option<string?>("--api-key") { Description = "Label Studio token (default LABEL_STUDIO_API_KEY)." };
        var backend = new Option<string?>("--backend-url")
        {
            Description = "How Label Studio reaches this backend (default: the URL of the ML backend registered in the project).",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of lines." };
        var fix = new Option<bool>("--fix") { Description = "Create or re-activate the TASKS_CREATED webhook and turn interactive pre-annotations on." };
        var command = new Command("doctor", "Find what stops a Label Studio project from getting SAM2 masks, with the fix for each problem.")
        {
            project, url, key, backend, json, fix,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var settings = Sam2Settings.Read(new ConfigurationBuilder().AddEnvironmentVariables()
                    .AddInMemoryCollection(new Dictionary<string, string?>
                    {
                        ["LABEL_STUDIO_URL"] = parse.GetValue(url),
                        ["LABEL_STUDIO_API_KEY"] = parse.GetValue(key),
                    }.Where(kv => kv.Value is not null)).Build());
                var options = new DoctorOptions(parse.GetValue(project), parse.GetValue(backend), parse.GetValue(json), parse.GetValue(fix));
                return await RunAsync(settings, options, Console.Out, ct);
            }
            catch (Exception e) when (e is SettingException or ArgumentException or HttpRequestException)
            {
                await Console.Error.WriteLineAsync("doctor: " + e.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>Runs every check and prints them; returns the exit code.</summary>
    internal static async Task<int> RunAsync(Sam2Settings settings, DoctorOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var report = await new Doctor(settings, options).RunAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(options.Json ? report.ToJson() : report.ToText()).ConfigureAwait(false);
        return report.ExitCode;
    }
}

/// <param name="BackendUrl">How Label Studio reaches this backend; null: the project's registered ML backend URL.</param>
internal sealed record DoctorOptions(long Project, string? BackendUrl = null, bool Json = false, bool Fix = false);

/// <summary>The checks' outcome: findings in order, the repairs --fix made, and a corrected labeling configuration.</summary>
internal sealed class DoctorReport
{
    public List<Finding> Findings { get; } = [];

    /// <summary>Repairs made by --fix, keyed by the check they repaired.</summary>
    public List<(string Check, string Action)> Repairs { get; } = [];

    public string? CorrectedConfig { get; set; }

    public int ExitCode => Findings.Any(f => f.Level == FindingLevel.Fail && !Repairs.Any(r => r.Check == f.Check)) ? 1 : 0;

    public string ToText()
    {
        var text = new StringBuilder();
        foreach (var f in Findings)
        {
            text.Append(CultureInfo.InvariantCulture, $"{f.Level.ToString().ToLowerInvariant(),-4}  {f.Check}: {f.Detail}\n");
            if (f.Fix is not null && f.Level != FindingLevel.Pass) text.Append(CultureInfo.InvariantCulture, $"      fix: {f.Fix}\n");
            foreach (var r in Repairs.Where(r => r.Check == f.Check)) text.Append(CultureInfo.InvariantCulture, $"fixed {f.Check}: {r.Action}\n");
        }
        if (CorrectedConfig is not null) text.Append("\nA labeling configuration with the fixes above (the doctor never changes it; paste it under Settings → Labeling Interface → Code):\n").Append(CorrectedConfig).Append('\n');
        var failed = Findings.Count(f => f.Level == FindingLevel.Fail && !Repairs.Any(r => r.Check == f.Check));
        var warned = Findings.Count(f => f.Level == FindingLevel.Warn);
        text.Append(CultureInfo.InvariantCulture, $"\n{Findings.Count} checks: {failed} failed, {warned} warned, {Repairs.Count} repaired\n");
        return text.ToString();
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("exit_code", ExitCode);
            json.WriteStartArray("checks");
            foreach (var f in Findings)
            {
                json.WriteStartObject();
                json.WriteString("level", f.Level.ToString().ToLowerInvariant());
                json.WriteString("check", f.Check);
                json.WriteString("detail", f.Detail);
                if (f.Fix is not null) json.WriteString("fix", f.Fix);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("repairs");
            foreach (var (check, action) in Repairs)
            {
                json.WriteStartObject();
                json.WriteString("check", check);
                json.WriteString("action", action);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (CorrectedConfig is not null) json.WriteString("corrected_config", CorrectedConfig);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}

/// <summary>One doctor run: the checks in the issue's order; later checks that need an earlier one's answer are skipped.</summary>
internal sealed class Doctor(Sam2Settings settings, DoctorOptions options)
{
    private const string TasksCreated = "TASKS_CREATED";
    private const string SecretHeader = "X-Webhook-Secret";
    private readonly DoctorReport _report = new();

    private void Add(FindingLevel level, string check, string detail, string? fix = null) => _report.Findings.Add(new(level, check, detail, fix));

    public async Task<DoctorReport> RunAsync(CancellationToken cancellationToken)
    {
        await using var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.None)).AddSegmentation(settings).BuildServiceProvider();
        var modelsOk = CheckModels(services);
        await CheckRedisAsync().ConfigureAwait(false);

        using var api = new LabelStudioApi(settings.LabelStudio);
        if (!await CheckLabelStudioAsync(api, cancellationToken).ConfigureAwait(false)) return _report;
        var project = await CheckKeyAsync(api, cancellationToken).ConfigureAwait(false);
        if (project is null) return _report;

        var findings = LabelConfigFindings.Analyze(project.LabelConfig);
        _report.Findings.AddRange(findings.Findings);
        _report.CorrectedConfig = findings.CorrectedConfig;
        var task = await GuardAsync("config.data", () => CheckTaskDataAsync(api, findings, cancellationToken)).ConfigureAwait(false);

        var backendUrl = await GuardAsync("ml-backend.entry", () => CheckMlBackendAsync(api, cancellationToken)).ConfigureAwait(false);
        if (backendUrl is not null) await GuardAsync("webhook", async () => { await CheckWebhookAsync(api, backendUrl, cancellationToken).ConfigureAwait(false); return true; }).ConfigureAwait(false);
        if (task is not null && modelsOk) await CheckTaskAsync(services, task.Value.Id, task.Value.Uri, cancellationToken).ConfigureAwait(false);
        return _report;
    }

    /// <summary>Runs a check that calls Label Studio; a refused or failed call (e.g. 403 for a key without admin rights on
    /// webhooks) becomes that check's failure instead of ending the run.</summary>
    private async Task<T?> GuardAsync<T>(string check, Func<Task<T>> run)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (LabelStudioApiException e)
        {
            Add(FindingLevel.Fail, check, e.Message, e.StatusCode == 403
                ? "The key's user lacks the permission for this call: use a token of a project administrator or owner."
                : "Check that Label Studio is up and LABEL_STUDIO_URL points at it; then run the doctor again.");
            return default;
        }
    }

    private bool CheckModels(IServiceProvider services)
    {
        var model = settings.Model;
        try
        {
            var start = Stopwatch.GetTimestamp();
            var encoder = services.GetRequiredService<Sam2Encoder>();
            var decoder = services.GetRequiredService<Sam2Decoder>();
            Add(FindingLevel.Pass, "settings.models",
                Invariant($"{model.ModelName}: {Path.GetFileName(encoder.Path)} on {encoder.Provider}, decoder on {decoder.Provider}, loaded in {Stopwatch.GetElapsedTime(start).TotalMilliseconds:0} ms"));
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var inner = e;
            while (inner.InnerException is not null && inner is InvalidOperationException) inner = inner.InnerException;
            Add(FindingLevel.Fail, "settings.models", $"the model files cannot be loaded: {inner.Message}",
                $"Run `sam2i models pull` (downloads {model.ModelName} into MODEL_DIR), or set ENCODER_PATH and DECODER_PATH to existing .onnx files.");
            return false;
        }
    }

    private async Task CheckRedisAsync()
    {
        if (settings.Cache.Redis.Redis is not { } redis)
        {
            Add(FindingLevel.Pass, "settings.redis", "REDIS_URL is not set: embeddings are cached in this process only");
            return;
        }
        var config = redis.Clone();
        config.AbortOnConnectFail = true;
        config.ConnectTimeout = 3000;
        config.ConnectRetry = 1;
        var endpoints = string.Join(", ", config.EndPoints.Select(e => e.ToString()));
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
            var latency = await connection.GetDatabase().PingAsync().ConfigureAwait(false);
            Add(FindingLevel.Pass, "settings.redis", Invariant($"REDIS_URL {endpoints} answers PING in {latency.TotalMilliseconds:0.0} ms"));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Add(FindingLevel.Fail, "settings.redis", $"REDIS_URL {endpoints} is not reachable: {FirstLine(e.Message)}",
                "Start Redis or correct REDIS_URL (host and port as seen from the backend; password in the URL if Redis needs one), or unset it to cache in memory only.");
        }
    }

    private async Task<bool> CheckLabelStudioAsync(LabelStudioApi api, CancellationToken cancellationToken)
    {
        var url = settings.LabelStudio.Url?.AbsoluteUri.TrimEnd('/');
        if (url is null)
        {
            Add(FindingLevel.Fail, "label-studio.reachable", "LABEL_STUDIO_URL is not set", "Set LABEL_STUDIO_URL (or --label-studio-url) to the address this backend reaches Label Studio at.");
            return false;
        }
        try
        {
            var (status, body) = await api.ProbeAsync(cancellationToken).ConfigureAwait(false);
            if (status is >= 200 and < 300 && body.Contains("UP", StringComparison.Ordinal))
            {
                Add(FindingLevel.Pass, "label-studio.reachable", Invariant($"{url}/health answers {status} UP"));
                return true;
            }
            Add(FindingLevel.Fail, "label-studio.reachable", Invariant($"{url}/health answers HTTP {status}, not Label Studio's {{\"status\":\"UP\"}}: wrong host or port, or a proxy path prefix"),
                "Set LABEL_STUDIO_URL to Label Studio's own address (the one you open in the browser, with any path prefix).");
            return false;
        }
        catch (LabelStudioApiException e)
        {
            Add(FindingLevel.Fail, "label-studio.reachable", e.Message,
                "Check LABEL_STUDIO_URL from the machine the backend runs on; inside Docker use the Label Studio service name, not localhost.");
            return false;
        }
    }

    private async Task<LabelStudioProject?> CheckKeyAsync(LabelStudioApi api, CancellationToken cancellationToken)
    {
        var kind = api.TokenKind switch
        {
            LabelStudioTokenKind.Legacy => "legacy token",
            LabelStudioTokenKind.PersonalAccessToken => "personal access token",
            LabelStudioTokenKind.Jwt => "JWT access token",
            _ => "none",
        };
        if (api.TokenKind == LabelStudioTokenKind.None)
        {
            Add(FindingLevel.Fail, "label-studio.key", "LABEL_STUDIO_API_KEY is not set",
                "Create a personal access token under Account & Settings in Label Studio and set LABEL_STUDIO_API_KEY (or --api-key).");
            return null;
        }
        try
        {
            var project = await api.GetProjectAsync(options.Project, cancellationToken).ConfigureAwait(false);
            Add(FindingLevel.Pass, "label-studio.key", $"{kind} accepted; project {options.Project} \"{project.Title}\"");
            return project;
        }
        catch (LabelStudioApiException e)
        {
            var (detail, fix) = (api.TokenKind, e.StatusCode) switch
            {
                (_, 404) => ($"project {options.Project} does not exist for this key ({kind} accepted)", "Check --project (the number in the project's URL) and that the key's user is a member of the project's organization."),
                (LabelStudioTokenKind.Legacy, 401 or 403) =>
                    ($"Label Studio rejected the {kind}: legacy tokens are disabled (the default since Label Studio 1.17), or the token is wrong",
                     "Create a personal access token under Account & Settings → Personal Access Token and put it in LABEL_STUDIO_API_KEY; or enable legacy tokens (Organization → Access Token Settings) and copy the legacy token again."),
                (LabelStudioTokenKind.PersonalAccessToken, _) when e.Message.Contains("refreshing", StringComparison.Ordinal) =>
                    ($"Label Studio rejected the {kind}: it has expired or was revoked (the refresh at /api/token/refresh/ was refused)",
                     "Create a new personal access token under Account & Settings → Personal Access Token and put it in LABEL_STUDIO_API_KEY."),
                (LabelStudioTokenKind.PersonalAccessToken, _) when e.Message.Contains("token refresh", StringComparison.Ordinal) =>
                    ($"this Label Studio has no personal access tokens (the refresh endpoint is missing; older than 1.17): {e.Message}",
                     "Use the legacy token from Account & Settings, or upgrade Label Studio."),
                (LabelStudioTokenKind.Jwt, 401 or 403) =>
                    ($"Label Studio rejected the {kind}: a short-lived access token (expires in about 5 minutes) was given instead of the personal access token",
                     "Put the personal access token itself (the refresh token shown once under Account & Settings) in LABEL_STUDIO_API_KEY."),
                (_, 401 or 403) => ($"Label Studio rejected the {kind} ({e.Message})", "Copy the token again from Account & Settings into LABEL_STUDIO_API_KEY."),
                _ => (e.Message, "Check LABEL_STUDIO_URL and that Label Studio is running."),
            };
            Add(FindingLevel.Fail, "label-studio.key", detail, fix);
            return null;
        }
    }

    /// <summary>config.data: the task data key the Image reads is present in the project's first tasks; returns a task to try.</summary>
    private async Task<(long Id, string Uri)?> CheckTaskDataAsync(LabelStudioApi api, LabelConfigFindings config, CancellationToken cancellationToken)
    {
        if (config.ImageVariable is not { } key) return null;
        var page = await api.ListTasksAsync(options.Project, 1, 20, cancellationToken).ConfigureAwait(false);
        if (page.Tasks.Count == 0)
        {
            Add(FindingLevel.Warn, "config.data", $"the project has no tasks yet, so data.{key} cannot be checked", "Import tasks whose data has the key \"" + key + "\".");
            return null;
        }
        var withImage = page.Tasks.Where(t => t.Data?.TryGetValue(key, out var v) == true && v.ValueKind == JsonValueKind.String).ToList();
        if (withImage.Count == 0)
        {
            var keys = page.Tasks[0].Data?.Keys is { } k ? string.Join(", ", k) : "none";
            Add(FindingLevel.Fail, "config.data", $"the Image reads ${key}, but the first {page.Tasks.Count} task(s) have no data.{key} (their keys: {keys})",
                $"Set the Image's value to one of the tasks' keys (e.g. value=\"${page.Tasks[0].Data?.Keys.FirstOrDefault() ?? key}\"), or import tasks with data.{key}.");
            return null;
        }
        Add(withImage.Count == page.Tasks.Count ? FindingLevel.Pass : FindingLevel.Warn, "config.data",
            Invariant($"data.{key} present in {withImage.Count} of the first {page.Tasks.Count} task(s) ({page.Total} in the project)"),
            withImage.Count == page.Tasks.Count ? null : $"Tasks without data.{key} get no masks; fix their data or the Image's value.");
        var first = withImage[0];
        return (first.Id, first.Data![key].GetString()!);
    }

    /// <summary>The ML backend entry; returns the backend URL Label Studio uses (for the webhook check), or null.</summary>
    private async Task<string?> CheckMlBackendAsync(LabelStudioApi api, CancellationToken cancellationToken)
    {
        var wanted = options.BackendUrl?.TrimEnd('/');
        var backends = await api.ListMlBackendsAsync(options.Project, cancellationToken).ConfigureAwait(false);
        if (backends.Count == 0)
        {
            Add(FindingLevel.Fail, "ml-backend.entry", "the project has no ML backend connected",
                $"Settings → Model → Connect Model with URL {wanted ?? "http://<this backend's host>:9090"} and \"Interactive preannotations\" on.");
            return null;
        }
        var entry = wanted is null ? backends.OrderByDescending(b => b.IsInteractive).First()
            : backends.FirstOrDefault(b => SameUrl(b.Url, wanted));
        if (entry is null)
        {
            Add(FindingLevel.Fail, "ml-backend.entry", $"no ML backend of the project points at {wanted} (registered: {string.Join(", ", backends.Select(b => b.Url))})",
                $"Edit the model under Settings → Model and set its URL to {wanted}, or pass the URL Label Studio uses as --backend-url.");
            return wanted;
        }
        var backendUrl = entry.Url?.TrimEnd('/') ?? wanted;
        Add(FindingLevel.Pass, "ml-backend.entry", Invariant($"ML backend {entry.Id} \"{entry.Title}\" at {entry.Url}"));

        if (entry.IsInteractive)
        {
            Add(FindingLevel.Pass, "ml-backend.interactive", "interactive pre-annotations are on");
        }
        else
        {
            Add(FindingLevel.Fail, "ml-backend.interactive", "interactive pre-annotations are off: Label Studio sends no clicks to the backend",
                "Turn on \"Interactive preannotations\" under Settings → Model → Edit (or run the doctor with --fix).");
            if (options.Fix)
            {
                var updated = await api.UpdateMlBackendAsync(entry.Id, new MlBackendPatch { IsInteractive = true }, cancellationToken).ConfigureAwait(false);
                if (updated.IsInteractive) _report.Repairs.Add(("ml-backend.interactive", Invariant($"turned interactive pre-annotations on for ML backend {entry.Id}")));
            }
        }

        if (entry.State is "CO" or "TR" or "PR")
            Add(FindingLevel.Pass, "ml-backend.state", $"Label Studio reports it {entry.ReadableState ?? entry.State}");
        else
        {
            Add(entry.State == "ER" ? FindingLevel.Fail : FindingLevel.Warn, "ml-backend.state",
                $"Label Studio reports it {entry.ReadableState ?? entry.State ?? "unknown"}{(string.IsNullOrWhiteSpace(entry.ErrorMessage) ? "" : ": " + FirstLine(entry.ErrorMessage))}",
                $"Label Studio could not reach {entry.Url} at its last check: the URL must be reachable from Label Studio's machine (not localhost inside Docker); with BASIC_AUTH_USER set, enter the same pair under Basic Authentication.");
        }
        return backendUrl;
    }

    private async Task CheckWebhookAsync(LabelStudioApi api, string backendUrl, CancellationToken cancellationToken)
    {
        var target = backendUrl + "/webhook";
        var secret = settings.Server.WebhookSecret;
        var hooks = await api.ListWebhooksAsync(options.Project, cancellationToken).ConfigureAwait(false);
        var hook = hooks.FirstOrDefault(h => SameUrl(h.Url, target));
        const string Check = "webhook";
        if (hook is null)
        {
            var old = hooks.FirstOrDefault(h => h.Url?.TrimEnd('/').EndsWith("/webhook", StringComparison.OrdinalIgnoreCase) == true);
            Add(FindingLevel.Fail, Check, old is null
                    ? $"no webhook to {target}: imported tasks are not encoded ahead of the first click"
                    : $"the webhook {old.Id} points at an old backend URL {old.Url}, not {target}",
                $"Add a webhook to {target} for TASKS_CREATED under Settings → Webhooks{(secret is null ? "" : " with the header X-Webhook-Secret")} (or run the doctor with --fix).");
            if (options.Fix)
            {
                var created = await api.CreateWebhookAsync(new LabelStudioWebhook
                {
                    Project = options.Project,
                    Url = target,
                    SendPayload = true,
                    SendForAllActions = false,
                    Actions = [TasksCreated],
                    Headers = secret is null ? [] : new Dictionary<string, string> { [SecretHeader] = secret },
                    IsActive = true,
                }, cancellationToken).ConfigureAwait(false);
                _report.Repairs.Add((Check, Invariant($"created webhook {created.Id} to {target} for TASKS_CREATED{(secret is null ? "" : " with X-Webhook-Secret")}")));
            }
            return;
        }

        var problems = new List<string>();
        if (hook.IsActive == false) problems.Add("inactive (Label Studio disables a webhook after repeated failed deliveries)");
        var covers = hook.SendForAllActions == true || hook.Actions?.Contains(TasksCreated, StringComparer.Ordinal) == true;
        if (!covers) problems.Add("does not send TASKS_CREATED");
        var headerOk = secret is null || (hook.Headers?.TryGetValue(SecretHeader, out var sent) == true && sent == secret);
        if (!headerOk) problems.Add("lacks the X-Webhook-Secret header WEBHOOK_SECRET requires (every delivery gets 401)");
        if (problems.Count == 0)
        {
            Add(FindingLevel.Pass, Check, Invariant($"webhook {hook.Id} to {hook.Url} is active and sends TASKS_CREATED{(secret is null ? "" : " with X-Webhook-Secret")}"));
        }
        else
        {
            Add(FindingLevel.Fail, Check, Invariant($"webhook {hook.Id} to {hook.Url}: {string.Join("; ", problems)}"),
                $"Edit the webhook to {hook.Url} under Settings → Webhooks: active, TASKS_CREATED ticked" + (secret is null ? "" : ", header X-Webhook-Secret = WEBHOOK_SECRET") + " (or run the doctor with --fix).");
            if (options.Fix)
            {
                var headers = new Dictionary<string, string>(hook.Headers ?? []);
                if (secret is not null) headers[SecretHeader] = secret;
                var actions = hook.Actions ?? [];
                await api.UpdateWebhookAsync(hook.Id!.Value, new LabelStudioWebhook
                {
                    IsActive = true,
                    Actions = covers ? null : [.. actions, TasksCreated],
                    Headers = headerOk ? null : headers,
                }, cancellationToken).ConfigureAwait(false);
                _report.Repairs.Add((Check, Invariant($"re-activated webhook {hook.Id}{(covers ? "" : ", added TASKS_CREATED")}{(headerOk ? "" : ", set X-Webhook-Secret")}")));
                return;
            }
        }
        await CheckWebhookDeliveryAsync(target, hook.Headers, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// webhook.delivery: posts what Label Studio would (the webhook's headers, no Basic auth) to the backend's /webhook, so a
    /// proxy or an old backend that demands Basic auth there is caught (LS's ML webhook carries no Authorization,
    /// docs/label-studio-protocol.md §2). The action is not TASKS_CREATED, so the backend queues nothing.
    /// </summary>
    private async Task CheckWebhookDeliveryAsync(string target, Dictionary<string, string>? headers, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new StringContent("{\"action\":\"SAM2I_DOCTOR\"}", Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
                Add(FindingLevel.Pass, "webhook.delivery", Invariant($"{target} accepts a delivery with the webhook's headers (HTTP {status})"));
            else if (status == 401 && response.Headers.WwwAuthenticate.Any(h => h.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)))
                Add(FindingLevel.Fail, "webhook.delivery", $"{target} demands Basic auth, and the webhook carries none: every delivery fails and Label Studio eventually disables the webhook",
                    "Exempt /webhook from Basic auth in the proxy in front of the backend (this backend exempts it itself and checks X-Webhook-Secret instead), or add an Authorization header to the webhook.");
            else
                Add(FindingLevel.Fail, "webhook.delivery", Invariant($"{target} answers HTTP {status} to a delivery with the webhook's headers"),
                    "Check that the webhook's URL is this backend's /webhook and its X-Webhook-Secret header equals WEBHOOK_SECRET.");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Add(FindingLevel.Warn, "webhook.delivery", $"{target} cannot be reached from here ({FirstLine(e.Message)}); Label Studio may still reach it",
                "Run the doctor where Label Studio runs, or check the URL.");
        }
    }

    /// <summary>task: one task's image through the backend's own fetcher, decoded and encoded, and a click at the centre.</summary>
    private async Task CheckTaskAsync(IServiceProvider services, long taskId, string uri, CancellationToken cancellationToken)
    {
        var fetcher = services.GetRequiredService<ImageFetcher>();
        var start = Stopwatch.GetTimestamp();
        FetchedImage image;
        try
        {
            image = await fetcher.FetchAsync(uri, taskId, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageFetchException e)
        {
            Add(FindingLevel.Fail, "task", Invariant($"task {taskId}: the image {StorageKind(uri)} cannot be fetched: {e.Message}"), e.Failure switch
            {
                ImageFetchFailure.Refused => "Allow the image's host with IMAGE_URL_ALLOWLIST (or IMAGE_URL_POLICY), or serve the images through Label Studio storage.",
                ImageFetchFailure.Rejected => "The token cannot read this image: check LABEL_STUDIO_API_KEY belongs to a member of the project's organization.",
                ImageFetchFailure.NotFound => "The file is gone from Label Studio's storage, or the request carried no credentials: check LABEL_STUDIO_API_KEY and LABEL_STUDIO_URL.",
                ImageFetchFailure.NotConfigured => "Set the setting the message names.",
                _ => "Check that the backend reaches the image's host (LABEL_STUDIO_URL for uploads, the bucket for cloud storage).",
            });
            return;
        }
        using (image)
        {
            var fetchMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            try
            {
                start = Stopwatch.GetTimestamp();
                using var embedding = services.GetRequiredService<Sam2Encoder>().EncodeImage(image.Bytes.Span);
                var encodeMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                int w = embedding.OriginalWidth, h = embedding.OriginalHeight;
                start = Stopwatch.GetTimestamp();
                using var mask = services.GetRequiredService<Sam2Decoder>().Predict(embedding, new Prompt([new PromptPoint(w / 2f, h / 2f, true)]), w, h);
                var clickMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                Add(FindingLevel.Pass, "task", Invariant(
                    $"task {taskId}: {StorageKind(uri)}, {image.Length / 1024.0:0.0} KB fetched in {fetchMs:0} ms; {w}×{h} decoded and encoded in {encodeMs:0} ms; click at the centre decoded in {clickMs:0.0} ms (mask {mask.Area} px, score {mask.Score:0.00})"));
            }
            catch (ImageDecodeException e)
            {
                Add(FindingLevel.Fail, "task", Invariant($"task {taskId}: the image ({image.Length} bytes, {StorageKind(uri)}) cannot be decoded: {e.Message}"),
                    "Store the image as JPEG, PNG, WebP, BMP or GIF within MAX_IMAGE_PIXELS.");
            }
        }
    }

    private static string StorageKind(string uri) => uri switch
    {
        _ when uri.StartsWith("/data/upload/", StringComparison.Ordinal) || uri.StartsWith("upload/", StringComparison.Ordinal) => "upload " + uri,
        _ when uri.StartsWith("/data/local-files/", StringComparison.Ordinal) => "local files " + uri,
        _ when uri.StartsWith("s3://", StringComparison.Ordinal) || uri.StartsWith("gs://", StringComparison.Ordinal) || uri.StartsWith("azure-blob://", StringComparison.Ordinal)
            => "cloud storage " + ImageUrlGuard.SafeText(new Uri(uri), keepQuery: false),
        _ when Uri.TryCreate(uri, UriKind.Absolute, out var u) => "URL " + ImageUrlGuard.SafeText(u, keepQuery: false),
        _ => uri,
    };

    private static bool SameUrl(string? a, string? b) =>
        a is not null && b is not null && string.Equals(a.Trim().TrimEnd('/'), b.Trim().TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
