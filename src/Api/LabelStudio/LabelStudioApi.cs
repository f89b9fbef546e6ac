using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// The Label Studio REST API as this server and its command line use it, one small typed method per call
/// (docs/label-studio-protocol.md §8). Talks only to <c>LABEL_STUDIO_URL</c> with <c>LABEL_STUDIO_API_KEY</c> through
/// <see cref="LabelStudioAuth"/> (legacy token, or a personal access token exchanged for short-lived access tokens and
/// refreshed once after a 401). GETs are retried on connection errors, 5xx, 408 and 429; POSTs are not (a retried POST
/// could create a second object). Thread-safe; owns its <see cref="HttpClient"/>.
/// </summary>
internal sealed class LabelStudioApi : IDisposable
{
    private const int MaxGetAttempts = 3;

    private readonly HttpClient _http;
    private readonly LabelStudioAuth _auth;
    private readonly string? _base;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _retryDelay;

    public LabelStudioApi(LabelStudioOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _base = options.Url?.AbsoluteUri.TrimEnd('/');
        _timeout = options.FetchTimeout;
        _retryDelay = options.RetryDelay;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("sam2i/1.0");
        _auth = new LabelStudioAuth(_http, options.Url, options.ApiKey, timeProvider ?? TimeProvider.System);
        IsConfigured = _base is not null && _auth.Kind != LabelStudioTokenKind.None;
    }

    /// <summary>Whether both LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY are set.</summary>
    public bool IsConfigured { get; }

    /// <summary>The kind of LABEL_STUDIO_API_KEY (legacy token, personal access token, other JWT, none).</summary>
    public LabelStudioTokenKind TokenKind => _auth.Kind;

    /// <summary>
    /// <c>GET /health</c> without credentials (LS <c>core/urls.py</c>: <c>{"status":"UP"}</c>): the HTTP status and the
    /// start of the body, so a caller can tell Label Studio from another server at that address.
    /// </summary>
    /// <exception cref="LabelStudioApiException">Nothing answered (status 0), or LABEL_STUDIO_URL is not set.</exception>
    public async Task<(int Status, string Body)> ProbeAsync(CancellationToken cancellationToken)
    {
        if (_base is null)
            throw new LabelStudioApiException("/health", 0, "LABEL_STUDIO_URL is not set; set it to the URL this backend reaches Label Studio at");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            using var response = await _http.GetAsync(new Uri(_base + "/health"), timeout.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            return ((int)response.StatusCode, body.Length > 200 ? body[..200] : body);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new LabelStudioApiException("/health", 0, e is OperationCanceledException
                ? $"Label Studio at {_base} did not answer within {_timeout.TotalSeconds:0.#} s"
                : $"Label Studio at {_base} cannot be reached ({e.Message})", e);
        }
    }

    /// <summary><c>GET /api/ml?project=…</c>: the project's ML backends (LS <c>ml/api.py</c> <c>MLBackendListAPI</c>, not paginated).</summary>
    public Task<List<LabelStudioMlBackend>> ListMlBackendsAsync(long projectId, CancellationToken cancellationToken) =>
        GetAsync(Invariant($"/api/ml?project={projectId}"), LabelStudioJsonContext.Default.ListLabelStudioMlBackend, cancellationToken);

    /// <summary><c>PATCH /api/ml/{id}</c> (LS <c>MLBackendDetailAPI</c>): changes only the fields set in <paramref name="patch"/>.</summary>
    public Task<LabelStudioMlBackend> UpdateMlBackendAsync(long id, MlBackendPatch patch, CancellationToken cancellationToken) =>
        WriteAsync(HttpMethod.Patch, Invariant($"/api/ml/{id}"), patch, LabelStudioJsonContext.Default.MlBackendPatch, LabelStudioJsonContext.Default.LabelStudioMlBackend,
            cancellationToken);

    /// <summary><c>GET /api/webhooks/?project=…</c>: the project's webhooks (LS <c>webhooks/api.py</c> <c>WebhookListAPI</c>, not paginated).</summary>
    public Task<List<LabelStudioWebhook>> ListWebhooksAsync(long projectId, CancellationToken cancellationToken) =>
        GetAsync(Invariant($"/api/webhooks/?project={projectId}"), LabelStudioJsonContext.Default.ListLabelStudioWebhook, cancellationToken);

    /// <summary><c>POST /api/webhooks/</c> (LS <c>WebhookSerializer</c>): answers 201 with the webhook.</summary>
    public Task<LabelStudioWebhook> CreateWebhookAsync(LabelStudioWebhook webhook, CancellationToken cancellationToken) =>
        WriteAsync(HttpMethod.Post, "/api/webhooks/", webhook, LabelStudioJsonContext.Default.LabelStudioWebhook, LabelStudioJsonContext.Default.LabelStudioWebhook,
            cancellationToken);

    /// <summary><c>PATCH /api/webhooks/{id}/</c>: changes the fields set in <paramref name="webhook"/> (id is not sent).</summary>
    public Task<LabelStudioWebhook> UpdateWebhookAsync(long id, LabelStudioWebhook webhook, CancellationToken cancellationToken) =>
        WriteAsync(HttpMethod.Patch, Invariant($"/api/webhooks/{id}/"), webhook, LabelStudioJsonContext.Default.LabelStudioWebhook,
            LabelStudioJsonContext.Default.LabelStudioWebhook, cancellationToken);

    private async Task<TOut> WriteAsync<TIn, TOut>(HttpMethod method, string path, TIn body, JsonTypeInfo<TIn> inType, JsonTypeInfo<TOut> outType,
        CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, path, () => JsonContent.Create(body, inType), retry: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, path, outType, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>GET /api/projects/{id}/</c>: title and label config.</summary>
    public Task<LabelStudioProject> GetProjectAsync(long projectId, CancellationToken cancellationToken) =>
        GetAsync(Invariant($"/api/projects/{projectId}/"), LabelStudioJsonContext.Default.LabelStudioProject, cancellationToken);

    /// <summary>
    /// <c>GET /api/tasks/?project=…&amp;page=…&amp;page_size=…&amp;fields=task_only</c>: one page of a project's tasks
    /// (Label Studio's Data Manager list, ordered by id), with the total.
    /// </summary>
    public Task<LabelStudioTaskPage> ListTasksAsync(long projectId, int page, int pageSize, CancellationToken cancellationToken) =>
        GetAsync(Invariant($"/api/tasks/?project={projectId}&page={page}&page_size={pageSize}&fields=task_only"),
            LabelStudioJsonContext.Default.LabelStudioTaskPage, cancellationToken);

    /// <summary><c>GET /api/predictions/?task=…</c>: every prediction of a task (not paginated).</summary>
    public Task<List<LabelStudioPrediction>> ListPredictionsAsync(long taskId, CancellationToken cancellationToken) =>
        GetAsync(Invariant($"/api/predictions/?task={taskId}"), LabelStudioJsonContext.Default.ListLabelStudioPrediction, cancellationToken);

    /// <summary><c>POST /api/predictions/</c> with task, result, score and model version; answers 201 with the prediction.</summary>
    public async Task<LabelStudioPrediction> CreatePredictionAsync(PredictionCreateRequest prediction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        var path = "/api/predictions/";
        using var response = await SendAsync(HttpMethod.Post, path,
            () => JsonContent.Create(prediction, LabelStudioJsonContext.Default.PredictionCreateRequest), retry: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, path, LabelStudioJsonContext.Default.LabelStudioPrediction, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _auth.Dispose();
        _http.Dispose();
    }

    private async Task<T> GetAsync<T>(string pathAndQuery, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, pathAndQuery, null, retry: true, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, pathAndQuery, type, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, string path, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
                ?? throw new LabelStudioApiException(path, (int)response.StatusCode, "the answer is empty");
        }
        catch (JsonException e)
        {
            throw new LabelStudioApiException(path, (int)response.StatusCode, "the answer is not the JSON Label Studio sends: " + e.Message);
        }
    }

    /// <summary>One call with the Authorization header; a 401 refreshes a personal access token once; GETs are retried.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, Func<HttpContent>? content, bool retry,
        CancellationToken cancellationToken)
    {
        if (_base is null)
            throw new LabelStudioApiException(pathAndQuery, 0, "LABEL_STUDIO_URL is not set; set it to the URL this backend reaches Label Studio at");
        if (_auth.Kind == LabelStudioTokenKind.None)
            throw new LabelStudioApiException(pathAndQuery, 0, "LABEL_STUDIO_API_KEY is not set; create a token under Account & Settings in Label Studio");
        var url = new Uri(_base + pathAndQuery);
        string? rejected = null;
        for (var attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_timeout);
            HttpResponseMessage? response = null;
            try
            {
                using var request = new HttpRequestMessage(method, url) { Content = content?.Invoke() };
                var authorization = await _auth.GetAuthorizationAsync(rejected, timeout.Token).ConfigureAwait(false);
                if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (status == 401 && _auth.CanRefresh && rejected is null)
                {
                    // The access token expired or was revoked: refresh once and repeat the call.
                    rejected = authorization;
                    response.Dispose();
                    attempt--;
                    continue;
                }
                if (response.IsSuccessStatusCode) return response;
                if (retry && attempt < MaxGetAttempts && TransientStatusException.IsTransient(status))
                {
                    response.Dispose();
                    await Task.Delay(_retryDelay * attempt, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                var detail = await Detail(response, cancellationToken).ConfigureAwait(false);
                response.Dispose();
                throw new LabelStudioApiException(pathAndQuery, status, status is 401 or 403
                    ? $"Label Studio refused the token in LABEL_STUDIO_API_KEY ({detail})"
                    : detail);
            }
            catch (Exception e) when (e is HttpRequestException or TransientStatusException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                response?.Dispose();
                if (retry && attempt < MaxGetAttempts)
                {
                    await Task.Delay(_retryDelay * attempt, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                throw new LabelStudioApiException(pathAndQuery, 0, e is OperationCanceledException
                    ? $"Label Studio did not answer within {_timeout.TotalSeconds:0.#} s"
                    : $"Label Studio at {_base} cannot be reached ({e.Message})", e);
            }
            catch (ImageFetchException e)
            {
                // The token refresh was rejected or Label Studio is not configured for it; the message says which.
                response?.Dispose();
                throw new LabelStudioApiException(pathAndQuery, 0, e.Message, e);
            }
        }
    }

    private static async Task<string> Detail(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (text.Length > 300) text = text[..300] + "…";
        return string.IsNullOrWhiteSpace(text) ? $"HTTP {(int)response.StatusCode}" : $"HTTP {(int)response.StatusCode}: {text}";
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A Label Studio API call failed; the message names the call and what to fix, never the token.</summary>
internal sealed class LabelStudioApiException(string path, int statusCode, string message, Exception? inner = null)
    : Exception($"Label Studio API {path}: {message}", inner)
{
    /// <summary>The HTTP status, or 0 when no answer came.</summary>
    public int StatusCode { get; } = statusCode;
}

/// <summary>The project fields this server reads (LS <c>projects/serializers.py</c> <c>ProjectSerializer</c>).</summary>
internal sealed class LabelStudioProject
{
    public long Id { get; init; }

    public string? Title { get; init; }

    public string? LabelConfig { get; init; }
}

/// <summary>
/// <c>GET /api/tasks/</c>: <c>{"total_annotations","total_predictions","total","tasks":[…]}</c> (LS
/// <c>data_manager/api.py</c> <c>TaskPagination.get_paginated_response</c>).
/// </summary>
internal sealed class LabelStudioTaskPage
{
    public long Total { get; init; }

    public List<LabelStudioListedTask> Tasks { get; init; } = [];
}

/// <summary>A task as the Data Manager list gives it with <c>fields=task_only</c>: data plus counters.</summary>
internal sealed class LabelStudioListedTask
{
    public long Id { get; init; }

    public Dictionary<string, JsonElement>? Data { get; init; }

    public bool IsLabeled { get; init; }

    public int TotalAnnotations { get; init; }

    public int TotalPredictions { get; init; }

    /// <summary>The task as the ML-backend protocol carries it.</summary>
    public LabelStudioTask ToTask() => new() { Id = Id, Data = Data };
}

/// <summary>A stored prediction (LS <c>tasks/serializers.py</c> <c>PredictionSerializer</c>, <c>fields='__all__'</c>).</summary>
internal sealed class LabelStudioPrediction
{
    public long Id { get; init; }

    public long? Task { get; init; }

    public long? Project { get; init; }

    public string? ModelVersion { get; init; }

    public double? Score { get; init; }
}

/// <summary><c>POST /api/predictions/</c> body: the task, its regions, the score and the model version.</summary>
internal sealed class PredictionCreateRequest
{
    public required long Task { get; init; }

    public required IReadOnlyList<Region> Result { get; init; }

    public double Score { get; init; }

    public required string ModelVersion { get; init; }

    /// <summary>Optional: Label Studio takes the task's project when absent.</summary>
    public long? Project { get; init; }
}

/// <summary>
/// An ML backend connection (LS <c>ml/serializers.py</c> <c>MLBackendSerializer</c>, <c>fields='__all__'</c>): state is
/// <c>CO</c> connected, <c>DI</c> disconnected, <c>ER</c> error, <c>TR</c> training, <c>PR</c> predicting.
/// </summary>
internal sealed class LabelStudioMlBackend
{
    public long Id { get; init; }

    public string? Url { get; init; }

    public string? Title { get; init; }

    public bool IsInteractive { get; init; }

    public string? State { get; init; }

    public string? ReadableState { get; init; }

    public string? ErrorMessage { get; init; }

    /// <summary><c>NONE</c> or <c>BASIC_AUTH</c>.</summary>
    public string? AuthMethod { get; init; }

    public string? BasicAuthUser { get; init; }

    public long? Project { get; init; }
}

/// <summary><c>PATCH /api/ml/{id}</c> body: only the fields the doctor repairs.</summary>
internal sealed class MlBackendPatch
{
    public bool? IsInteractive { get; init; }
}

/// <summary>
/// A webhook (LS <c>webhooks/serializers.py</c> <c>WebhookSerializer</c>: id, project, url, send_payload,
/// send_for_all_actions, headers, is_active, actions). Also the POST/PATCH body: null fields are not sent.
/// </summary>
internal sealed class LabelStudioWebhook
{
    public long? Id { get; init; }

    public long? Project { get; init; }

    public string? Url { get; init; }

    public bool? SendPayload { get; init; }

    public bool? SendForAllActions { get; init; }

    public Dictionary<string, string>? Headers { get; init; }

    public bool? IsActive { get; init; }

    public List<string>? Actions { get; init; }
}
