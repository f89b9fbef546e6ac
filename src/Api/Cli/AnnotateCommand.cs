using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sam2Interactive.Api.Automatic;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.Cli;

/// <summary>
/// <c>annotate --project ID [--limit N] [--unlabeled-only] [--backend URL]</c>: pre-annotates a Label Studio project with
/// automatic masks, one prediction per task, through a running backend (<c>POST /annotate</c>) or in this process. Skips
/// tasks that already have a prediction of the model version, so an interrupted run resumes where it stopped. One
/// progress line per task on standard output.
/// </summary>
internal static class AnnotateCommand
{
    private const int PageSize = 100;

    public static Command Create()
    {
        var project = new Option<long>("--project") { Description = "Label Studio project id.", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Annotate at most this many tasks (skipped ones do not count)." };
        var unlabeledOnly = new Option<bool>("--unlabeled-only") { Description = "Skip tasks that already have an annotation." };
        var backend = new Option<string?>("--backend")
        {
            Description = "URL of a running sam2i server to do the work (it posts the predictions); default: in this process.",
        };
        var command = new Command("annotate", "Pre-annotate a Label Studio project with SAM2's automatic masks (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY).")
        {
            project, limit, unlabeledOnly, backend,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var settings = Sam2Settings.Read(new ConfigurationBuilder().AddEnvironmentVariables().Build());
                return await RunAsync(settings, parse.GetValue(project), parse.GetValue(limit), parse.GetValue(unlabeledOnly), parse.GetValue(backend),
                    Console.Out, ct);
            }
            catch (Exception e) when (e is SettingException or LabelStudioApiException or ArgumentException or HttpRequestException or InvalidDataException)
            {
                await Console.Error.WriteLineAsync("annotate: " + e.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>Walks the project's tasks page by page and annotates each that needs it; returns the exit code.</summary>
    internal static async Task<int> RunAsync(Sam2Settings settings, long projectId, int? limit, bool unlabeledOnly, string? backendUrl, TextWriter output,
        CancellationToken cancellationToken)
    {
        if (limit is < 1) throw new ArgumentException("--limit must be at least 1");
        using var api = new LabelStudioApi(settings.LabelStudio);
        if (!api.IsConfigured) throw new ArgumentException("LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY must be set to read the project and write predictions");
        var project = await api.GetProjectAsync(projectId, cancellationToken).ConfigureAwait(false);
        var config = LabelConfigParser.ParseUncached(project.LabelConfig ?? "");
        if (config.Config is not { } labelConfig) throw new ArgumentException($"project {projectId}: {config.Problem}");

        await using var worker = backendUrl is null ? InProcess.Create(settings) : (IWorker)new Remote(backendUrl, SettingReader.FromEnvironment());
        var modelVersion = await worker.ModelVersionAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync(Invariant($"annotate: project {projectId} \"{project.Title}\", model version {modelVersion}, {(backendUrl is null ? "in process" : "via " + backendUrl)}"))
            .ConfigureAwait(false);

        var started = Stopwatch.GetTimestamp();
        long seen = 0;
        int created = 0, existing = 0, unlabeledSkips = 0, failed = 0;
        var total = 0L;
        for (var page = 1; ; page++)
        {
            var tasks = await api.ListTasksAsync(projectId, page, PageSize, cancellationToken).ConfigureAwait(false);
            total = tasks.Total;
            foreach (var listed in tasks.Tasks)
            {
                if (limit is { } max && created >= max) break;
                seen++;
                var prefix = Invariant($"[{seen}/{total}] task {listed.Id}:");
                if (unlabeledOnly && (listed.IsLabeled || listed.TotalAnnotations > 0))
                {
                    unlabeledSkips++;
                    await output.WriteLineAsync($"{prefix} skipped (has an annotation)").ConfigureAwait(false);
                    continue;
                }
                if (listed.TotalPredictions > 0)
                {
                    var predictions = await api.ListPredictionsAsync(listed.Id, cancellationToken).ConfigureAwait(false);
                    if (predictions.Any(p => p.ModelVersion == modelVersion))
                    {
                        existing++;
                        await output.WriteLineAsync($"{prefix} skipped (has a prediction of {modelVersion})").ConfigureAwait(false);
                        continue;
                    }
                }
                var start = Stopwatch.GetTimestamp();
                try
                {
                    var (outcome, regions) = await worker.AnnotateAsync(listed.ToTask(), labelConfig, project, cancellationToken).ConfigureAwait(false);
                    if (outcome == AnnotateOutcome.Exists) existing++;
                    else created++;
                    await output.WriteLineAsync(Invariant($"{prefix} {regions} region(s), {outcome.ToString().ToLowerInvariant()}, {Stopwatch.GetElapsedTime(start).TotalSeconds:0.0} s"))
                        .ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failed++;
                    await output.WriteLineAsync($"{prefix} failed: {e.Message}").ConfigureAwait(false);
                }
            }
            if ((limit is { } l && created >= l) || tasks.Tasks.Count < PageSize || (long)page * PageSize >= total) break;
        }
        await output.WriteLineAsync(Invariant(
            $"annotate: {created} task(s) annotated, {existing} already had a prediction, {unlabeledSkips} skipped as labeled, {failed} failed, in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s"))
            .ConfigureAwait(false);
        return failed == 0 ? 0 : 1;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Who generates and posts: this process or a running server.</summary>
    private interface IWorker : IAsyncDisposable
    {
        Task<string> ModelVersionAsync(CancellationToken cancellationToken);

        Task<(AnnotateOutcome Outcome, int Regions)> AnnotateAsync(LabelStudioTask task, LabelConfig config, LabelStudioProject project, CancellationToken cancellationToken);
    }

    /// <summary>The server's stages and automatic-mask services, composed here without the HTTP host.</summary>
    private sealed class InProcess(ServiceProvider services) : IWorker
    {
        public static InProcess Create(Sam2Settings settings) =>
            new(new ServiceCollection().AddLogging(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning)).AddSegmentation(settings).BuildServiceProvider());

        public Task<string> ModelVersionAsync(CancellationToken cancellationToken)
        {
            // Load both sessions now: a missing model file ends the command before any task.
            services.GetRequiredService<Sam2Interactive.Encoder.Sam2Encoder>();
            services.GetRequiredService<Sam2Interactive.Decoder.Sam2Decoder>();
            return Task.FromResult(services.GetRequiredService<AutomaticAnnotator>().ModelVersion);
        }

        public Task<(AnnotateOutcome Outcome, int Regions)> AnnotateAsync(LabelStudioTask task, LabelConfig config, LabelStudioProject project,
            CancellationToken cancellationToken) =>
            services.GetRequiredService<AutomaticPredictions>().AnnotateAsync(task, config.Targets[0], project.Id, cancellationToken);

        public ValueTask DisposeAsync() => services.DisposeAsync();
    }

    /// <summary>A running server's <c>POST /annotate</c> (Basic auth from BASIC_AUTH_USER/PASS when set).</summary>
    private sealed class Remote : IWorker
    {
        private readonly HttpClient _http;

        public Remote(string url, SettingReader settings)
        {
            if (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var baseUrl) || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException($"--backend must be an absolute http(s) URL, not '{url}'");
            _http = new HttpClient { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
            if (settings.Text("BASIC_AUTH_USER") is { } user && settings.Text("BASIC_AUTH_PASS") is { } pass)
            {
                _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + pass)));
            }
        }

        public async Task<string> ModelVersionAsync(CancellationToken cancellationToken)
        {
            using var response = await _http.GetAsync("versions", cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            var versions = await response.Content.ReadFromJsonAsync(LabelStudioJsonContext.Default.VersionsResponse, cancellationToken).ConfigureAwait(false);
            return versions is { Versions.Count: > 0 } ? versions.Versions[0] : throw new ArgumentException("the backend's /versions names no model version");
        }

        public async Task<(AnnotateOutcome Outcome, int Regions)> AnnotateAsync(LabelStudioTask task, LabelConfig config, LabelStudioProject project,
            CancellationToken cancellationToken)
        {
            var body = new AnnotateRequest { Task = task, Project = project.Id, LabelConfig = project.LabelConfig };
            using var response = await _http.PostAsJsonAsync("annotate", body, LabelStudioJsonContext.Default.AnnotateRequest, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var error = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                string detail;
                try
                {
                    detail = JsonSerializer.Deserialize(error, LabelStudioJsonContext.Default.ErrorResponse)?.Detail ?? error;
                }
                catch (JsonException)
                {
                    detail = error;
                }
                throw new HttpRequestException(Invariant($"the backend answered HTTP {(int)response.StatusCode}: {detail}"));
            }
            var answer = await response.Content.ReadFromJsonAsync(LabelStudioJsonContext.Default.AnnotateResponse, cancellationToken).ConfigureAwait(false)
                ?? throw new HttpRequestException("the backend's /annotate answer is empty");
            return (Enum.Parse<AnnotateOutcome>(answer.Outcome, ignoreCase: true), answer.Regions);
        }

        public ValueTask DisposeAsync()
        {
            _http.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
