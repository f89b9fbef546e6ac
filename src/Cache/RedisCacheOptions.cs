using System.Globalization;
using StackExchange.Redis;

namespace Sam2Interactive.Cache;

/// <summary>Element type of the tensors stored in Redis.</summary>
#pragma warning disable CA1720 // The names are CACHE_DTYPE's values.
public enum CacheDType
{
    /// <summary>IEEE half: 8 MiB per embedding, about 3 significant decimal digits. The default.</summary>
    Float16,
    /// <summary>Exact float32 copy: 16 MiB per embedding.</summary>
    Float32,
}
#pragma warning restore CA1720

/// <summary>Settings of the Redis tier (tier 2) of the embedding cache.</summary>
public sealed class RedisCacheOptions
{
    /// <value><c>REDIS_URL</c>, parsed; null when unset, which disables the tier. Never logged with its password.</value>
    public ConfigurationOptions? Redis { get; init; }

    /// <value><c>CACHE_DTYPE</c>: float16 (default) or float32.</value>
    public CacheDType DType { get; init; } = CacheDType.Float16;

    /// <value><c>CACHE_TTL</c>: expiry of embeddings and URI map entries. Default 7 days.</value>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromDays(7);

    /// <value><c>CACHE_PREFIX</c>: prepended to every key and channel. Default "sam2:". Never contains '{' or '}'
    /// (they would break the Redis Cluster hash tags).</value>
    public string Prefix { get; init; } = "sam2:";

    /// <value><c>LOCK_TTL</c>: expiry of the cluster encode lock; the holder renews it every third of this. Default 30 s.</value>
    public TimeSpan LockTtl { get; init; } = TimeSpan.FromSeconds(30);

    /// <value>Timeout of one small Redis call (lock, URI map, EXISTS). Large values add <see cref="TransferBytesPerSecond"/> time.</value>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <value>Assumed worst-case transfer rate used to stretch the timeout of the 8-16 MiB GET/SET. Default 32 MiB/s.</value>
    public double TransferBytesPerSecond { get; init; } = 32 << 20;

    /// <value>How long the circuit breaker stays open before it lets one probe through. Default 5 s.</value>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <value>Fallback polling interval of <see cref="IDistributedEmbeddingTier.WaitForLockReleaseAsync"/>. Default 250 ms.</value>
    public TimeSpan LockPollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Whether REDIS_URL was given.</summary>
    public bool Enabled => Redis is not null;

    /// <summary>
    /// Accepts <c>redis://[[user]:password@]host[:port][/db]</c>, <c>rediss://...</c> (TLS) and StackExchange.Redis
    /// configuration strings (<c>host:port,password=x,ssl=true</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The value is neither; the message starts with REDIS_URL and hides the password.</exception>
    public static ConfigurationOptions ParseRedisUrl(string value)
    {
        if (value.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            return ParseUri(value);
        }
        if (value.Contains("://", StringComparison.Ordinal))
            throw new ArgumentException("REDIS_URL must use the redis:// or rediss:// scheme, or be a StackExchange.Redis configuration string.");

        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(value);
        }
        catch (ArgumentException e)
        {
            // The parser's message may quote the password; keep only its reason.
            throw new ArgumentException("REDIS_URL is not a valid StackExchange.Redis configuration string: " + Redact(e.Message, value));
        }
        if (options.EndPoints.Count == 0)
            throw new ArgumentException("REDIS_URL names no endpoint (expected host:port).");
        foreach (var endpoint in options.EndPoints)
        {
            if (endpoint is System.Net.DnsEndPoint dns && (dns.Host.Length == 0 || dns.Host.AsSpan().IndexOfAny(" \t/@") >= 0))
                throw new ArgumentException($"REDIS_URL endpoint '{dns.Host}' is not a host name.");
        }
        return options;
    }

    private static ConfigurationOptions ParseUri(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            throw new ArgumentException("REDIS_URL is not a valid redis:// URL (expected redis://[:password@]host:port[/db]).");
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
            throw new ArgumentException("REDIS_URL must not carry a query or fragment; use a StackExchange.Redis configuration string for extra options.");

        var tls = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase);
        var port = uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port;
        var host = uri.Host.Trim('[', ']');
        var options = new ConfigurationOptions { Ssl = tls };
        options.EndPoints.Add(host, port);
        if (tls) options.SslHost = host;

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            var user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            var password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            if (password is null)
            {
                // redis://secret@host: a lone user-info part is the password (AUTH <password>), as redis-cli reads it.
                options.Password = user;
            }
            else
            {
                if (user.Length > 0) options.User = user;
                options.Password = password;
            }
        }

        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var db) || db > 10_000)
                throw new ArgumentException($"REDIS_URL database must be a number after the last '/', not '{path}'.");
            options.DefaultDatabase = db;
        }
        return options;
    }

    private static string Redact(string message, string value)
    {
        var marker = value.IndexOf("password=", StringComparison.OrdinalIgnoreCase);
        if (marker < 0) return message;
        var start = marker + "password=".Length;
        var end = value.IndexOf(',', start);
        var password = end < 0 ? value[start..] : value[start..end];
        return password.Length == 0 ? message : message.Replace(password, "***", StringComparison.Ordinal);
    }
}
