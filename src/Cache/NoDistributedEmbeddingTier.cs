using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>The shared tier when <c>REDIS_URL</c> is not set: every read misses, and this process is the whole cluster.</summary>
internal sealed class NoDistributedEmbeddingTier : IDistributedEmbeddingTier
{
    public string State => "disabled";

    public Task<ImageEmbedding?> TryGetAsync(string contentHash, CancellationToken cancellationToken) => Task.FromResult<ImageEmbedding?>(null);

    public Task PutAsync(string contentHash, ImageEmbedding embedding, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<string?> TryGetContentHashAsync(string uriKey, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task SetContentHashAsync(string uriKey, string contentHash, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<(LockOutcome Outcome, IAsyncDisposable? Lease)> TryAcquireEncodeLockAsync(string contentHash, CancellationToken cancellationToken) =>
        Task.FromResult<(LockOutcome, IAsyncDisposable?)>((LockOutcome.Acquired, null));

    public Task<bool> WaitForLockReleaseAsync(string contentHash, TimeSpan timeout, CancellationToken cancellationToken) => Task.FromResult(true);
}
