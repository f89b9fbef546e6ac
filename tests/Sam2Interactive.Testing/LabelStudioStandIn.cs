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
/// from it too (<see cref="AddUpload"/>).
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
        ls.MapGet("/data/upload/{**path}", (HttpContext ctx) => self!.Media(ctx, ctx.Request.Path));
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
        if (header == "Token " + LegacyKey)
            return null;
        if (header.StartsWith("Bearer ", StringComparison.Ordinal) && IsValidAccess(header[7..]))
            return null;
        return Results.Json(new { detail = "Invalid token" }, statusCode: 401);
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

    public async ValueTask DisposeAsync()
    {
        await _ls.DisposeAsync();
        await _storage.DisposeAsync();
    }
}
