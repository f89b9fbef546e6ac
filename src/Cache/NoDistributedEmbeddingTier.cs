using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// Tier 2 when <c>REDIS_URL</c> is unset: every read misses, writes are dropped, the encode lock is always acquired (with a
/// lease that does nothing), so a single replica runs on tier 1 alone.
/// </summary>
internal sealed class NoDistributedEmbeddingTier : IDistributedEmbeddingTier
{
    public static readonly NoDistributedEmbeddingTier Instance = new();

    private static readonly Task<(LockOutcome, IAsyncDisposable?)> s_acquired =
        Task.FromResult<(LockOutcome, IAsyncDisposable?)>((LockOutcome.Acquired, NoOpLease.Instance));

    public DistributedTierState State => DistributedTierState.Disabled;

    public Task<ImageEmbedding?> TryGetAsync(string contentHash, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<ImageEmbedding?>(cancellationToken) : Task.FromResult<ImageEmbedding?>(null);

    public Task<long> StoredBytesAsync(string contentHash, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<long>(cancellationToken) : Task.FromResult(0L);

    public Task PutAsync(string contentHash, ImageEmbedding embedding, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    public Task<string?> TryGetContentHashAsync(string uriKey, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<string?>(cancellationToken) : Task.FromResult<string?>(null);

    public Task SetContentHashAsync(string uriKey, string contentHash, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    public Task<(LockOutcome Outcome, IAsyncDisposable? Lease)> TryAcquireEncodeLockAsync(string contentHash, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<(LockOutcome, IAsyncDisposable?)>(cancellationToken) : s_acquired;

    public Task<bool> WaitForLockReleaseAsync(string contentHash, TimeSpan timeout, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<bool>(cancellationToken) : Task.FromResult(true);

    private sealed class NoOpLease : IAsyncDisposable
    {
        public static readonly NoOpLease Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
