using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Sam2Interactive.Testing;

/// <summary>
/// A real Label Studio stand-in on loopback Kestrel: media under /data/upload and /data/local-files (404 without
/// credentials, 401 for a wrong token, as LS does), /tasks/{id}/presign/ answering 303 to a second host ("storage"),
/// /api/token/refresh/ issuing short-lived access JWTs, status/slow/flaky/reset/loop endpoints, and /redirect?to=&lt;url&gt;
/// (302 to any URL) on both hosts. Records every Authorization header per host. The benchmarks serve their task images
/// from it too (<see cref="AddUpload"/>). The REST API calls this server makes (<c>GET /api/projects/{id}/</c>,
/// <c>GET /api/tasks/</c> with paging, <c>GET/POST /api/predictions/</c>) answer as Label Studio's source shapes them
/// (docs/label-studio-protocol.md §8), over <see cref="Projects"/>, <see cref="Tasks"/> and the recorded <see cref="Predictions"/>.
/// </summary>
internal sealed class LabelStudioStandIn : IAsyncDisposable
{
    public const string LegacyKey = "legacy-0123456789abcdef";

    private readonly WebApplication _ls;
    private readonly WebApplication _storage;
    private int _refreshes;
    private int _flakyCalls;
    private int _resets;

    private LabelStudioStandIn(WebApplication ls, WebApplication storage)
    {
        _ls = ls;
        _storage = storage;
    }

    /// <summary>A personal access token: JWT with token_type refresh.</summary>
    public static string PersonalAccessToken { get; } = Jwt(new { token_type = "refresh", exp = 4102444800L, user_id = 1 });

    public Uri Url => new(_ls.Urls.First());

    public Uri StorageUrl => new(_storage.Urls.First());

    /// <summary>Files served by LS, by path and query (e.g. "/data/upload/2/a.png").</summary>
    public ConcurrentDictionary<string, byte[]> Files { get; } = new();

    /// <summary>Serves <paramref name="bytes"/> as an upload in <paramref name="folder"/> (Label Studio uses the project id);
    /// returns the task data value Label Studio sends for it, "/data/upload/{folder}/{name}".</summary>
    public string AddUpload(string folder, string name, byte[] bytes)
    {
        var path = "/data/upload/" + folder + "/" + name;
        Files[path] = bytes;
        return path;
    }

    /// <summary>Files served by the storage host under /presigned/{name} and /public/{name}.</summary>
    public ConcurrentDictionary<string, byte[]> StorageFiles { get; } = new();

    /// <summary>(path, Authorization header or null) of every LS request.</summary>
    public ConcurrentQueue<(string Path, string? Authorization)> LsRequests { get; } = new();

    /// <summary>(path, Authorization header or null) of every storage request.</summary>
    public ConcurrentQueue<(string Path, string? Authorization)> StorageRequests { get; } = new();

    /// <summary>The decoded fileuri values presign was asked for.</summary>
    public ConcurrentQueue<string> PresignedUris { get; } = new();

    public int Refreshes => Volatile.Read(ref _refreshes);

    public int FlakyCalls => Volatile.Read(ref _flakyCalls);

    /// <summary>Requests to /reset/... whose connection was aborted.</summary>
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>Lifetime of access tokens the refresh endpoint issues.</summary>
    public TimeSpan AccessLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Access tokens LS no longer accepts (simulates revocation before exp).</summary>
    public ConcurrentDictionary<string, bool> RevokedAccess { get; } = new();

    /// <summary>Number of initial 503 answers from /flaky.</summary>
    public int FlakyFailures { get; set; } = 2;

    public ConcurrentDictionary<string, int> StatusHits { get; } = new();

    /// <summary>Projects by id: title and label config.</summary>
    public ConcurrentDictionary<long, (string Title, string LabelConfig)> Projects { get; } = new();

    /// <summary>Tasks by id: project, task data (a JSON object) and annotation count.</summary>
    public ConcurrentDictionary<long, (long Project, string DataJson, int Annotations)> Tasks { get; } = new();

    /// <summary>Every prediction stored, in arrival order (POSTed, or added by a test).</summary>
    public ConcurrentQueue<StoredPrediction> Predictions { get; } = new();

    /// <summary>Requests to <c>GET /api/predictions/</c> and <c>GET /api/tasks/</c>, for paging assertions.</summary>
    public ConcurrentQueue<string> ApiReads { get; } = new();

    private readonly ConcurrentDictionary<string, MediaHold> _holds = new(StringComparer.Ordinal);

    /// <summary>
    /// Holds the answers to media requests for <paramref name="path"/> (e.g. "/data/upload/2/a.png") until the returned
    /// hold is released, so a test can keep a request in flight for as long as it needs that state, whatever the speed of
    /// the machine. A request whose client gives up stops waiting (it is aborted, not answered).
    /// </summary>
    public MediaHold Hold(string path) => _holds.GetOrAdd(path, _ => new MediaHold());

    /// <summary>A gate on one media path: <see cref="Arrived"/> completes when the first request for it is being held.</summary>
    public sealed class MediaHold
    {
        private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Arrived => _arrived.Task;

        public void Release() => _released.TrySetResult();

        internal async Task WaitAsync(CancellationToken requestAborted)
        {
            _arrived.TrySetResult();
            await _released.Task.WaitAsync(requestAborted);
        }
    }

    private long _nextPredictionId = 1;
    private readonly object _postedLock = new();
    private readonly Dictionary<long, StoredPrediction> _firstPosted = [];
    private readonly ConcurrentDictionary<long, TaskCompletionSource<StoredPrediction>> _postWaiters = new();

    /// <summary>A prediction as Label Studio stores it: id, task, project, model version, score, and the raw result JSON.</summary>
    public sealed record StoredPrediction(long Id, long Task, long? Project, string? ModelVersion, double? Score, string ResultJson);

    /// <summary>Adds a prediction as if posted earlier (another model version, a previous run).</summary>
    public void AddPrediction(long task, string modelVersion) =>
        Predictions.Enqueue(new StoredPrediction(Interlocked.Increment(ref _nextPredictionId), task, null, modelVersion, 0.5, "[]"));

    /// <summary>The first prediction POSTed for <paramref name="task"/>: at once if it is there, else when it arrives;
    /// null if none arrives within <paramref name="timeout"/> (a safety net, not a synchronisation).</summary>
    public async Task<StoredPrediction?> WaitForPostedPredictionAsync(long task, TimeSpan timeout)
    {
        var waiter = _postWaiters.GetOrAdd(task, _ => new TaskCompletionSource<StoredPrediction>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_postedLock)
        {
            if (_firstPosted.TryGetValue(task, out var posted)) waiter.TrySetResult(posted);
        }
        try
        {
            return await waiter.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    public static async Task<LabelStudioStandIn> StartAsync()
    {
        var storage = LoopbackApp.Create();
        var ls = LoopbackApp.Create();
        LabelStudioStandIn? self = null;

        storage.Use(async (ctx, next) =>
        {
            self!.StorageRequests.Enqueue((ctx.Request.Path + ctx.Request.QueryString, Header(ctx)));
            await next(ctx);
        });
        storage.MapGet("/presigned/{name}", (string name) => Serve(self!.StorageFiles, name));
        storage.MapGet("/public/{name}", (string name) => Serve(self!.StorageFiles, name));
        storage.MapGet("/redirect", (HttpContext ctx) => Redirect(ctx));

        ls.Use(async (ctx, next) =>
        {
            self!.LsRequests.Enqueue((ctx.Request.Path + ctx.Request.QueryString, Header(ctx)));
            await next(ctx);
        });
        ls.MapGet("/data/upload/{**path}", async (HttpContext ctx) =>
        {
            if (self!._holds.TryGetValue(ctx.Request.Path, out var hold)) await hold.WaitAsync(ctx.RequestAborted);
            return self.Media(ctx, ctx.Request.Path);
        });
        ls.MapGet("/data/local-files/", (HttpContext ctx) => self!.Media(ctx, "/data/local-files/?d=" + ctx.Request.Query["d"]));
        ls.MapGet("/tasks/{id:long}/presign/", (HttpContext ctx, long id) =>
        {
            if (self!.AuthError(ctx) is { } error)
                return error;
            var b64 = ctx.Request.Query["fileuri"].ToString().Replace('-', '+').Replace('_', '/');
            var uri = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
            self.PresignedUris.Enqueue(uri);
            var name = uri[(uri.LastIndexOf('/') + 1)..];
            ctx.Response.Headers.Location = new Uri(self.StorageUrl, string.Create(CultureInfo.InvariantCulture, $"/presigned/{name}?X-Amz-Signature=s3cr3tsig&task={id}")).AbsoluteUri;
            return Results.StatusCode(303);
        });
        ls.MapPost("/api/token/refresh/", async (HttpContext ctx) =>
        {
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body);
            if (body.RootElement.GetProperty("refresh").GetString() != PersonalAccessToken)
                return Results.Json(new { detail = "Token is invalid" }, statusCode: 401);
            Interlocked.Increment(ref self!._refreshes);
            var exp = DateTimeOffset.UtcNow.Add(self.AccessLifetime).ToUnixTimeSeconds();
            return Results.Json(new { access = Jwt(new { token_type = "access", exp, jti = Guid.NewGuid().ToString("N") }) });
        });
        ls.MapGet("/status/{code:int}", (int code) =>
        {
            self!.StatusHits.AddOrUpdate(code.ToString(CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            return Results.StatusCode(code);
        });
        ls.MapGet("/redirect", (HttpContext ctx) => Redirect(ctx));
        ls.MapGet("/loop/{n:int}", (HttpContext ctx, int n) =>
        {
            ctx.Response.Headers.Location = string.Create(CultureInfo.InvariantCulture, $"/loop/{n + 1}");
            return Results.StatusCode(302);
        });
        ls.MapGet("/slow", async (CancellationToken ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(20), ct);
            return Results.Bytes([1, 2, 3]);
        });
        ls.MapGet("/reset/{**path}", (HttpContext ctx) =>
        {
            // The peer resets the connection mid-request (proxy restart, crash): no status line ever arrives.
            Interlocked.Increment(ref self!._resets);
            ctx.Abort();
            return Results.Empty;
        });
        ls.MapGet("/flaky", () =>
            Interlocked.Increment(ref self!._flakyCalls) <= self.FlakyFailures ? Results.StatusCode(503) : Results.Bytes([7, 7, 7]));
        ls.MapGet("/chunked/{size:int}", async (HttpContext ctx, int size) =>
        {
            // No Content-Length: the fetcher must stop reading at MAX_IMAGE_BYTES itself.
            var chunk = new byte[1000];
            for (var sent = 0; sent < size; sent += chunk.Length)
                await ctx.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, size - sent)));
        });

        // REST API (LS tasks/api.py, data_manager/api.py, projects/api.py): 401 without a valid token, as LS does.
        ls.MapGet("/api/projects/{id:long}/", (HttpContext ctx, long id) =>
        {
            if (self!.ApiAuthError(ctx) is { } error)
                return error;
            return self.Projects.TryGetValue(id, out var p)
                ? Results.Json(new { id, title = p.Title, label_config = p.LabelConfig })
                : Results.Json(new { detail = "Not found." }, statusCode: 404);
        });
        ls.MapGet("/api/tasks/", (HttpContext ctx) =>
        {
            if (self!.ApiAuthError(ctx) is { } error)
                return error;
            self.ApiReads.Enqueue(ctx.Request.Path + ctx.Request.QueryString);
            var project = long.Parse(ctx.Request.Query["project"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
            var page = int.TryParse(ctx.Request.Query["page"], out var pg) ? pg : 1;
            var size = int.TryParse(ctx.Request.Query["page_size"], out var ps) ? ps : 100;
            var all = self.Tasks.Where(t => t.Value.Project == project).OrderBy(t => t.Key).ToList();
            // DRF PageNumberPagination: a page past the end is 404 {"detail": "Invalid page."}.
            if (page < 1 || (page - 1) * size >= Math.Max(all.Count, 1) && page > 1)
                return Results.Json(new { detail = "Invalid page." }, statusCode: 404);
            var tasks = all.Skip((page - 1) * size).Take(size).Select(t => new Dictionary<string, object?>
            {
                ["id"] = t.Key,
                ["data"] = JsonDocument.Parse(t.Value.DataJson).RootElement,
                ["is_labeled"] = t.Value.Annotations > 0,
                ["total_annotations"] = t.Value.Annotations,
                ["total_predictions"] = self.Predictions.Count(p => p.Task == t.Key),
                ["project"] = project,
            }).ToList();
            return Results.Json(new
            {
                total_annotations = all.Sum(t => t.Value.Annotations),
                total_predictions = self.Predictions.Count(p => all.Any(t => t.Key == p.Task)),
                total = all.Count,
                tasks,
            });
        });
        ls.MapGet("/api/predictions/", (HttpContext ctx) =>
        {
            if (self!.ApiAuthError(ctx) is { } error)
                return error;
            self.ApiReads.Enqueue(ctx.Request.Path + ctx.Request.QueryString);
            var task = ctx.Request.Query["task"].ToString();
            var list = self.Predictions.Where(p => task.Length == 0 || p.Task.ToString(System.Globalization.CultureInfo.InvariantCulture) == task)
                .Select(p => new { id = p.Id, task = p.Task, project = p.Project, model_version = p.ModelVersion, score = p.Score, result = JsonDocument.Parse(p.ResultJson).RootElement });
            return Results.Json(list);
        });
        ls.MapPost("/api/predictions/", async (HttpContext ctx) =>
        {
            if (self!.ApiAuthError(ctx) is { } error)
                return error;
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body);
            var root = body.RootElement;
            if (!root.TryGetProperty("task", out var taskId) || !self.Tasks.ContainsKey(taskId.GetInt64()))
                return Results.Json(new { task = new[] { "Invalid pk - object does not exist." } }, statusCode: 400);
            if (!root.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Array)
                return Results.Json(new { result = new[] { "This field is required." } }, statusCode: 400);
            var stored = new StoredPrediction(Interlocked.Increment(ref self._nextPredictionId), taskId.GetInt64(),
                root.TryGetProperty("project", out var pr) && pr.ValueKind == JsonValueKind.Number ? pr.GetInt64() : self.Tasks[taskId.GetInt64()].Project,
                root.TryGetProperty("model_version", out var mv) ? mv.GetString() : null,
                root.TryGetProperty("score", out var sc) && sc.ValueKind == JsonValueKind.Number ? sc.GetDouble() : null,
                result.GetRawText());
            self.Predictions.Enqueue(stored);
            lock (self._postedLock)
            {
                self._firstPosted.TryAdd(stored.Task, stored);
                if (self._postWaiters.TryGetValue(stored.Task, out var waiter)) waiter.TrySetResult(stored);
            }
            return Results.Json(new { id = stored.Id, task = stored.Task, project = stored.Project, model_version = stored.ModelVersion, score = stored.Score, result = result.Clone() },
                statusCode: 201);
        });

        MapAdministration(ls, () => self!);

        await storage.StartAsync();
        await ls.StartAsync();
        self = new LabelStudioStandIn(ls, storage);
        return self;
    }

    // 302 to the ?to= URL, as is (any scheme or host): the fetcher must vet every hop.
    private static IResult Redirect(HttpContext ctx)
    {
        ctx.Response.Headers.Location = ctx.Request.Query["to"].ToString();
        return Results.StatusCode(302);
    }

    private static string? Header(HttpContext ctx) =>
        ctx.Request.Headers.Authorization.Count == 0 ? null : ctx.Request.Headers.Authorization.ToString();

    private static IResult Serve(ConcurrentDictionary<string, byte[]> files, string key) =>
        files.TryGetValue(key, out var bytes) ? Results.Bytes(bytes, ContentType(bytes)) : Results.NotFound();

    // What the bytes are, as a file server would say from the extension; the fetcher reads the bytes, not this header.
    private static string ContentType(byte[] bytes) => bytes is [0xFF, 0xD8, ..] ? "image/jpeg" : "image/png";

    private IResult Media(HttpContext ctx, string key) => AuthError(ctx) ?? Serve(Files, key);

    // LS: no credentials → 404 on media; a wrong or expired token → 401 "Invalid token".
    private IResult? AuthError(HttpContext ctx)
    {
        var header = Header(ctx);
        if (header is null)
            return Results.NotFound();
        if (header == "Token " + LegacyKey && LegacyTokensEnabled)
            return null;
        if (header.StartsWith("Bearer ", StringComparison.Ordinal) && IsValidAccess(header[7..]))
            return null;
        return Results.Json(new { detail = "Invalid token" }, statusCode: 401);
    }

    // LS REST API: no credentials or a bad token → 401 {"detail": ...} (DRF).
    private IResult? ApiAuthError(HttpContext ctx)
    {
        var header = Header(ctx);
        if (header is null)
            return Results.Json(new { detail = "Authentication credentials were not provided." }, statusCode: 401);
        return AuthError(ctx);
    }

    private bool IsValidAccess(string jwt)
    {
        if (RevokedAccess.ContainsKey(jwt))
            return false;
        var parts = jwt.Split('.');
        if (parts.Length != 3)
            return false;
        using var payload = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]));
        return payload.RootElement.GetProperty("token_type").GetString() == "access" &&
               payload.RootElement.GetProperty("exp").GetInt64() > DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public static string Jwt(object payload)
    {
        static string Part(object o) => System.Buffers.Text.Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(o));
        return Part(new { alg = "HS256", typ = "JWT" }) + "." + Part(payload) + ".c2lnbmF0dXJl";
    }

    /// <summary>False: legacy tokens are disabled (LS 1.17+ default, LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN off) and answer 401.</summary>
    public bool LegacyTokensEnabled { get; set; } = true;

    /// <summary>ML backend connections by id (<c>GET /api/ml?project=</c>, <c>PATCH /api/ml/{id}</c>).</summary>
    public ConcurrentDictionary<long, MlBackend> MlBackends { get; } = new();

    /// <summary>Webhooks by id (<c>GET/POST /api/webhooks/</c>, <c>PATCH /api/webhooks/{id}/</c>).</summary>
    public ConcurrentDictionary<long, Webhook> Webhooks { get; } = new();

    private long _nextAdminId = 100;

    /// <summary>Adds an ML backend connection to <paramref name="project"/>; returns it (state CO unless changed).</summary>
    public MlBackend AddMlBackend(long project, string url, bool interactive = true)
    {
        var backend = new MlBackend { Id = Interlocked.Increment(ref _nextAdminId), Project = project, Url = url, IsInteractive = interactive };
        MlBackends[backend.Id] = backend;
        return backend;
    }

    /// <summary>Adds a webhook as LS's <c>create_ml_webhook</c> does (all actions, payload, no headers) unless overridden.</summary>
    public Webhook AddWebhook(long project, string url, bool active = true, IReadOnlyList<string>? actions = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        var hook = new Webhook
        {
            Id = Interlocked.Increment(ref _nextAdminId),
            Project = project,
            Url = url,
            IsActive = active,
            SendForAllActions = actions is null,
            Actions = [.. actions ?? []],
            Headers = new(headers ?? new Dictionary<string, string>()),
        };
        Webhooks[hook.Id] = hook;
        return hook;
    }

    /// <summary>An ML backend row (LS <c>ml/models.py</c> <c>MLBackend</c>, serialized with <c>fields='__all__'</c>).</summary>
    public sealed class MlBackend
    {
        public long Id { get; init; }

        public long Project { get; init; }

        public string Url { get; set; } = "";

        public string Title { get; set; } = "SAM2";

        public bool IsInteractive { get; set; }

        /// <summary>CO connected, DI disconnected, ER error.</summary>
        public string State { get; set; } = "CO";

        public string? ErrorMessage { get; set; }

        public object ToJson() => new
        {
            id = Id,
            project = Project,
            url = Url,
            title = Title,
            is_interactive = IsInteractive,
            state = State,
            readable_state = State switch { "CO" => "Connected", "DI" => "Disconnected", "ER" => "Error", _ => State },
            error_message = ErrorMessage,
            auth_method = "NONE",
            basic_auth_user = (string?)null,
            basic_auth_pass_is_set = false,
            model_version = "",
            timeout = 100.0,
            auto_update = true,
            description = "",
            extra_params = (object?)null,
        };
    }

    /// <summary>A webhook row (LS <c>webhooks/models.py</c> <c>Webhook</c>, <c>WebhookSerializer</c> fields).</summary>
    public sealed class Webhook
    {
        public long Id { get; init; }

        public long? Project { get; init; }

        public string Url { get; set; } = "";

        public bool SendPayload { get; set; } = true;

        public bool SendForAllActions { get; set; }

        public Dictionary<string, string> Headers { get; set; } = [];

        public bool IsActive { get; set; } = true;

        public List<string> Actions { get; set; } = [];

        public object ToJson() => new
        {
            id = Id,
            organization = 1,
            project = Project,
            url = Url,
            send_payload = SendPayload,
            send_for_all_actions = SendForAllActions,
            headers = Headers,
            is_active = IsActive,
            actions = Actions,
            created_at = "2026-01-01T00:00:00Z",
            updated_at = "2026-01-01T00:00:00Z",
        };

        // PATCH semantics of DRF: only the fields present change.
        public void Apply(JsonElement body)
        {
            if (body.TryGetProperty("url", out var url)) Url = url.GetString() ?? Url;
            if (body.TryGetProperty("send_payload", out var sp)) SendPayload = sp.GetBoolean();
            if (body.TryGetProperty("send_for_all_actions", out var all)) SendForAllActions = all.GetBoolean();
            if (body.TryGetProperty("is_active", out var active)) IsActive = active.GetBoolean();
            if (body.TryGetProperty("headers", out var headers))
                Headers = headers.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            if (body.TryGetProperty("actions", out var actions))
                Actions = [.. actions.EnumerateArray().Select(a => a.GetString() ?? "")];
        }
    }

    // LS core/urls.py /health (public), ml/api.py and webhooks/api.py: 401 without a valid token, 404 for unknown ids.
    private static void MapAdministration(WebApplication ls, Func<LabelStudioStandIn> self)
    {
        ls.MapGet("/health", () => Results.Json(new { status = "UP" }));
        ls.MapGet("/api/ml", (HttpContext ctx) =>
        {
            if (self().ApiAuthError(ctx) is { } error)
                return error;
            var project = long.TryParse(ctx.Request.Query["project"], out var p) ? p : (long?)null;
            return Results.Json(self().MlBackends.Values.Where(b => project is null || b.Project == project).OrderBy(b => b.Id).Select(b => b.ToJson()));
        });
        ls.MapMethods("/api/ml/{id:long}", ["PATCH"], async (HttpContext ctx, long id) =>
        {
            if (self().ApiAuthError(ctx) is { } error)
                return error;
            if (!self().MlBackends.TryGetValue(id, out var backend))
                return Results.Json(new { detail = "Not found." }, statusCode: 404);
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body);
            if (body.RootElement.TryGetProperty("is_interactive", out var interactive)) backend.IsInteractive = interactive.GetBoolean();
            if (body.RootElement.TryGetProperty("url", out var url)) backend.Url = url.GetString() ?? backend.Url;
            return Results.Json(backend.ToJson());
        });
        ls.MapGet("/api/webhooks/", (HttpContext ctx) =>
        {
            if (self().ApiAuthError(ctx) is { } error)
                return error;
            var project = long.TryParse(ctx.Request.Query["project"], out var p) ? p : (long?)null;
            return Results.Json(self().Webhooks.Values.Where(h => project is null || h.Project == project).OrderBy(h => h.Id).Select(h => h.ToJson()));
        });
        ls.MapPost("/api/webhooks/", async (HttpContext ctx) =>
        {
            if (self().ApiAuthError(ctx) is { } error)
                return error;
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body);
            if (!body.RootElement.TryGetProperty("url", out var url) || url.GetString() is not { Length: > 0 })
                return Results.Json(new { url = new[] { "This field is required." } }, statusCode: 400);
            var project = body.RootElement.TryGetProperty("project", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt64() : (long?)null;
            var hook = new Webhook { Id = Interlocked.Increment(ref self()._nextAdminId), Project = project };
            hook.Apply(body.RootElement);
            self().Webhooks[hook.Id] = hook;
            return Results.Json(hook.ToJson(), statusCode: 201);
        });
        ls.MapMethods("/api/webhooks/{id:long}/", ["PATCH"], async (HttpContext ctx, long id) =>
        {
            if (self().ApiAuthError(ctx) is { } error)
                return error;
            if (!self().Webhooks.TryGetValue(id, out var hook))
                return Results.Json(new { detail = "Not found." }, statusCode: 404);
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body);
            hook.Apply(body.RootElement);
            return Results.Json(hook.ToJson());
        });
    }

    public async ValueTask DisposeAsync()
    {
        // A hold a failed test left closed would keep Kestrel's stop waiting for its request.
        foreach (var hold in _holds.Values) hold.Release();
        await _ls.DisposeAsync();
        await _storage.DisposeAsync();
    }
}
