using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// Tier 2 of the embedding cache, shared by every replica (Redis). Every member is best effort: when the tier is down,
/// slow or returns garbage, reads report a miss, writes are dropped, locks report <see cref="LockOutcome.Unavailable"/>,
/// and nothing throws except on cancellation — a click carries on from tier 1 or by computing.
/// </summary>
/// <remarks>
/// Keys: <c>{prefix}{model id}</c> scopes everything to one encoder file; a content hash is the lowercase hex SHA-256 of
/// the image bytes; a URI key is the image's identity (Label Studio host + task image URI).
/// </remarks>
internal interface IDistributedEmbeddingTier
{
    /// <summary>Reads and validates an embedding. Corrupt, truncated, foreign-model or old-format values are deleted and
    /// reported as a miss. The caller owns the returned embedding's reference.</summary>
    Task<ImageEmbedding?> TryGetAsync(string contentHash, CancellationToken cancellationToken);

    /// <summary>Size in bytes of the stored value for <paramref name="contentHash"/> (the lengths of its parts, no value is read);
    /// 0 when absent or when the tier cannot tell.</summary>
    Task<long> StoredBytesAsync(string contentHash, CancellationToken cancellationToken);

    /// <summary>Stores an embedding (float16 or float32 per <c>CACHE_DTYPE</c>) with the configured TTL.</summary>
    Task PutAsync(string contentHash, ImageEmbedding embedding, CancellationToken cancellationToken);

    /// <summary>The content hash another replica recorded for an image URI, or null.</summary>
    Task<string?> TryGetContentHashAsync(string uriKey, CancellationToken cancellationToken);

    /// <summary>Records which content an image URI holds (same TTL as embeddings).</summary>
    Task SetContentHashAsync(string uriKey, string contentHash, CancellationToken cancellationToken);

    /// <summary>
    /// Tries to become the one replica that encodes <paramref name="contentHash"/>: SET NX PX with a random owner token.
    /// The returned lease renews the lock while held and, on dispose, releases it by compare-and-delete and publishes a
    /// completion notice.
    /// </summary>
    Task<(LockOutcome Outcome, IAsyncDisposable? Lease)> TryAcquireEncodeLockAsync(string contentHash, CancellationToken cancellationToken);

    /// <summary>
    /// Waits until another replica's lock on <paramref name="contentHash"/> ends: completion notice (pub/sub) or, as a
    /// fallback, polling. Returns true when the lock is gone (released or expired), false on <paramref name="timeout"/>.
    /// </summary>
    Task<bool> WaitForLockReleaseAsync(string contentHash, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>For /health and the store's metrics.</summary>
    DistributedTierState State { get; }
}

internal enum LockOutcome
{
    Acquired,
    HeldByOther,
    Unavailable,
}

/// <summary>State of the shared (Redis) tier as /health reports it (lower-case names on the wire).</summary>
public enum DistributedTierState
{
    /// <summary>REDIS_URL is unset: one replica, tier 1 only.</summary>
    Disabled,

    /// <summary>Connected and the circuit breaker is closed.</summary>
    Connected,

    /// <summary>Unreachable, or the breaker is open after failures: reads miss and writes are dropped until it recovers.</summary>
    Degraded,
}
