using System.Buffers.Text;
using System.Text.Json;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// The Authorization header for requests to Label Studio (docs/label-studio-protocol.md §3.3):
/// a legacy key → <c>Token &lt;key&gt;</c>; a JWT that is not a refresh token → <c>Bearer &lt;jwt&gt;</c>;
/// a personal access token (JWT with <c>token_type: refresh</c>) → exchanged at <c>POST /api/token/refresh/</c>
/// for an access JWT sent as <c>Bearer</c>, cached until shortly before its <c>exp</c> and refreshed then or after a 401.
/// Thread-safe; concurrent callers share one refresh. Never puts the key in an exception message.
/// </summary>
internal sealed class LabelStudioAuth : IDisposable
{
    /// <summary>Refresh at most this long before <c>exp</c> (less for very short-lived tokens: a quarter of the lifetime).</summary>
    private static readonly TimeSpan s_maxRefreshSkew = TimeSpan.FromSeconds(30);

    /// <summary>Lifetime assumed for an access token without a readable <c>exp</c>.</summary>
    private static readonly TimeSpan s_defaultAccessLifetime = TimeSpan.FromMinutes(4);

    private readonly HttpClient _http;
    private readonly Uri? _baseUrl;
    private readonly string? _key;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private CachedAccess? _cached;
    private int _refreshCount;

    /// <param name="http">Client used for the token refresh call; not owned.</param>
    /// <param name="baseUrl">Label Studio base URL (with any path prefix), or null when not configured.</param>
    /// <param name="key">LABEL_STUDIO_API_KEY, or null.</param>
    /// <param name="time">Clock for the access-token cache.</param>
    public LabelStudioAuth(HttpClient http, Uri? baseUrl, string? key, TimeProvider time)
    {
        _http = http;
        _baseUrl = baseUrl;
        _key = string.IsNullOrWhiteSpace(key) ? null : key.Trim();
        _time = time;
        Kind = _key is null ? LabelStudioTokenKind.None : ClassifyKey(_key);
    }

    public LabelStudioTokenKind Kind { get; }

    /// <summary>How many times an access token was obtained from <c>/api/token/refresh/</c>.</summary>
    public int RefreshCount => Volatile.Read(ref _refreshCount);

    /// <summary>True when a 401 may be cured by refreshing the access token.</summary>
    public bool CanRefresh => Kind == LabelStudioTokenKind.PersonalAccessToken;

    /// <summary>The Authorization header value, or null when no key is configured.</summary>
    /// <param name="rejected">The header value Label Studio just answered 401 to, or null. A cached access token equal
    /// to it is discarded; one refreshed meanwhile by another caller is reused.</param>
    /// <exception cref="ImageFetchException">The refresh was rejected (<see cref="ImageFetchFailure.Rejected"/>).</exception>
    /// <exception cref="TransientStatusException">The refresh endpoint answered 5xx/408/429.</exception>
    public async ValueTask<string?> GetAuthorizationAsync(string? rejected, CancellationToken cancellationToken)
    {
        switch (Kind)
        {
            case LabelStudioTokenKind.None:
                return null;
            case LabelStudioTokenKind.Legacy:
                return "Token " + _key;
            case LabelStudioTokenKind.Jwt:
                return "Bearer " + _key;
        }

        if (Fresh(rejected) is { } header)
            return header;

        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another caller may have refreshed while this one waited.
            if (Fresh(rejected) is { } refreshed)
                return refreshed;

            var access = await RefreshAsync(cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var exp = ReadExp(access) ?? now + s_defaultAccessLifetime;
            var lifetime = exp - now;
            var skew = lifetime > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(s_maxRefreshSkew.Ticks, lifetime.Ticks / 4)) : TimeSpan.Zero;
            var cached = new CachedAccess("Bearer " + access, exp - skew);
            Volatile.Write(ref _cached, cached);
            Interlocked.Increment(ref _refreshCount);
            return cached.Header;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private string? Fresh(string? rejected)
    {
        var cached = Volatile.Read(ref _cached);
        if (cached is null || _time.GetUtcNow() >= cached.RefreshAt || cached.Header == rejected)
            return null;
        return cached.Header;
    }

    private async Task<string> RefreshAsync(CancellationToken cancellationToken)
    {
        if (_baseUrl is null)
            throw new ImageFetchException(ImageFetchFailure.NotConfigured, "LABEL_STUDIO_URL is not set; it is needed to exchange the personal access token in LABEL_STUDIO_API_KEY.");
        var url = new Uri(_baseUrl.AbsoluteUri.TrimEnd('/') + "/api/token/refresh/");
        using var response = await _http.PostAsJsonAsync(url, new TokenRefreshRequest { Refresh = _key! },
            LabelStudioJsonContext.Default.TokenRefreshRequest, cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        if (status is 401 or 403)
        {
            throw new ImageFetchException(ImageFetchFailure.Rejected,
                $"Label Studio rejected the token in LABEL_STUDIO_API_KEY: refreshing the personal access token at {ImageUrlGuard.SafeText(url, keepQuery: false)} answered HTTP {status}. " +
                "The token may be expired or revoked; create a new one under Account & Settings → Personal Access Token.");
        }

        if (TransientStatusException.IsTransient(status))
            throw new TransientStatusException(status, url);
        if (!response.IsSuccessStatusCode)
        {
            throw new ImageFetchException(ImageFetchFailure.Unreachable,
                $"Label Studio answered HTTP {status} to the token refresh at {ImageUrlGuard.SafeText(url, keepQuery: false)}; check LABEL_STUDIO_URL points at Label Studio 1.17 or newer.");
        }

        TokenRefreshResponse? body;
        try
        {
            body = await response.Content.ReadFromJsonAsync(LabelStudioJsonContext.Default.TokenRefreshResponse, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            body = null;
        }

        return body?.Access is { Length: > 0 } access
            ? access
            : throw new ImageFetchException(ImageFetchFailure.Unreachable,
                $"the token refresh at {ImageUrlGuard.SafeText(url, keepQuery: false)} did not return an access token; check LABEL_STUDIO_URL points at Label Studio itself.");
    }

    /// <summary>Legacy unless the key is a JWT (three base64url parts whose header is a JSON object).</summary>
    internal static LabelStudioTokenKind ClassifyKey(string key)
    {
        var parts = key.Split('.');
        if (parts.Length != 3 || ReadJsonPart(parts[0]) is not { } header)
            return LabelStudioTokenKind.Legacy;
        header.Dispose();
        using var payload = ReadJsonPart(parts[1]);
        var isRefresh = payload is not null &&
            payload.RootElement.TryGetProperty("token_type", out var type) &&
            type.ValueKind == JsonValueKind.String &&
            type.GetString() == "refresh";
        return isRefresh ? LabelStudioTokenKind.PersonalAccessToken : LabelStudioTokenKind.Jwt;
    }

    private static DateTimeOffset? ReadExp(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
            return null;
        using var payload = ReadJsonPart(parts[1]);
        if (payload is null || !payload.RootElement.TryGetProperty("exp", out var exp) || !exp.TryGetInt64(out var seconds))
            return null;
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    private static JsonDocument? ReadJsonPart(string part)
    {
        try
        {
            var bytes = Base64Url.DecodeFromChars(part);
            var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
                return doc;
            doc.Dispose();
        }
        catch (FormatException)
        {
        }
        catch (JsonException)
        {
        }

        return null;
    }

    public void Dispose() => _refreshLock.Dispose();

    /// <summary>An access token's header value and when to stop using it; replaced as a whole so reads never tear.</summary>
    private sealed record CachedAccess(string Header, DateTimeOffset RefreshAt);
}

internal enum LabelStudioTokenKind
{
    None,

    /// <summary>A legacy API key: <c>Authorization: Token &lt;key&gt;</c>.</summary>
    Legacy,

    /// <summary>A JWT that is not a refresh token, sent as is as <c>Bearer</c>.</summary>
    Jwt,

    /// <summary>A personal access token (JWT refresh token), exchanged for short-lived access tokens.</summary>
    PersonalAccessToken,
}

/// <summary>An HTTP status worth retrying (5xx, 408, 429); handled by the fetch retry strategy.</summary>
internal sealed class TransientStatusException(int statusCode, Uri url)
    : Exception($"HTTP {statusCode} from {ImageUrlGuard.SafeText(url, keepQuery: false)}")
{
    public int StatusCode { get; } = statusCode;

    public static bool IsTransient(int status) => status is >= 500 or 408 or 429;
}
