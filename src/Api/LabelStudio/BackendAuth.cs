using System.Security.Cryptography;
using System.Text;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// Secret comparison that takes the same time whatever the inputs: both sides are hashed with SHA-256 first, so
/// neither content nor length leaks through timing.
/// </summary>
internal static class SecretComparer
{
    public static bool SecretEquals(ReadOnlySpan<byte> presented, ReadOnlySpan<byte> expected)
    {
        Span<byte> a = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> b = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(presented, a);
        SHA256.HashData(expected, b);
        return CryptographicOperations.FixedTimeEquals(a, b);
    }

    public static bool SecretEquals(string? presented, string expected) =>
        presented is not null && SecretEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}

/// <summary>
/// HTTP Basic auth for every route except <c>/webhook</c> (LS's auto-created ML webhook carries no Basic auth;
/// <see cref="WebhookSecretFilter"/> guards it instead). Off when BASIC_AUTH_USER and BASIC_AUTH_PASS are both unset.
/// A failure answers 401 with <c>WWW-Authenticate: Basic</c>; LS then reports "authentication parameters ... incorrect".
/// </summary>
internal sealed class BasicAuthMiddleware(RequestDelegate next, BasicAuthCredentials credentials)
{
    private const string Challenge = "Basic realm=\"sam2i\", charset=\"UTF-8\"";

    public Task InvokeAsync(HttpContext context)
    {
        if (IsExempt(context.Request.Path) || credentials.Matches(context.Request.Headers.Authorization.ToString()))
            return next(context);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = Challenge;
        return context.Response.WriteAsJsonAsync(
            new ErrorResponse { Status = 401, Detail = "Basic authentication required: set the ML backend's Basic auth user and password in Label Studio to BASIC_AUTH_USER / BASIC_AUTH_PASS." },
            LabelStudioJsonContext.Default.ErrorResponse);
    }

    /// <summary><c>/webhook</c> and <c>/webhook/</c>, any case.</summary>
    internal static bool IsExempt(PathString path) =>
        path.Equals("/webhook", StringComparison.OrdinalIgnoreCase) || path.Equals("/webhook/", StringComparison.OrdinalIgnoreCase);
}

/// <summary>BASIC_AUTH_USER / BASIC_AUTH_PASS as UTF-8 bytes, compared in constant time.</summary>
internal sealed class BasicAuthCredentials
{
    private readonly byte[] _user;
    private readonly byte[] _pass;

    public BasicAuthCredentials(string user, string pass)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentException.ThrowIfNullOrEmpty(pass);
        _user = Encoding.UTF8.GetBytes(user);
        _pass = Encoding.UTF8.GetBytes(pass);
    }

    /// <summary>True when <paramref name="authorizationHeader"/> is <c>Basic base64(user:pass)</c> with both parts equal.</summary>
    public bool Matches(string? authorizationHeader)
    {
        if (authorizationHeader is null || !authorizationHeader.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            return false;
        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(authorizationHeader[6..].Trim());
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = Array.IndexOf(decoded, (byte)':');
        if (colon < 0)
            return false;
        // Both comparisons always run, so a wrong user costs the same as a wrong password.
        var userOk = SecretComparer.SecretEquals(decoded.AsSpan(0, colon), _user);
        var passOk = SecretComparer.SecretEquals(decoded.AsSpan(colon + 1), _pass);
        return userOk & passOk;
    }
}

/// <summary>
/// Guards <c>/webhook</c> with the optional shared secret WEBHOOK_SECRET, sent by LS as the custom webhook header
/// <c>X-Webhook-Secret</c>. Without WEBHOOK_SECRET every call passes. A mismatch answers 401.
/// </summary>
internal sealed class WebhookSecretFilter(string? secret) : IEndpointFilter
{
    public const string HeaderName = "X-Webhook-Secret";

    private readonly string? _secret = string.IsNullOrEmpty(secret) ? null : secret;

    /// <summary>True when no secret is configured or the request carries it.</summary>
    public bool IsAuthorized(HttpRequest request) =>
        _secret is null || SecretComparer.SecretEquals(request.Headers[HeaderName].ToString(), _secret);

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (IsAuthorized(context.HttpContext.Request))
            return next(context);
        return ValueTask.FromResult<object?>(Results.Json(
            new ErrorResponse { Status = 401, Detail = $"missing or wrong {HeaderName} header; add it with the value of WEBHOOK_SECRET to the Label Studio webhook." },
            LabelStudioJsonContext.Default.ErrorResponse, statusCode: StatusCodes.Status401Unauthorized));
    }
}

/// <summary>Wiring for Program.cs.</summary>
internal static class BackendAuthExtensions
{
    /// <summary>Adds <see cref="BasicAuthMiddleware"/> when <paramref name="credentials"/> is not null.</summary>
    public static IApplicationBuilder UseLabelStudioBasicAuth(this IApplicationBuilder app, BasicAuthCredentials? credentials) =>
        credentials is null ? app : app.UseMiddleware<BasicAuthMiddleware>(credentials);
}
