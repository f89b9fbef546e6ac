using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// The embedding cache the click path calls. An image is known by its URI (Label Studio host + task image URI) and by its
/// content (SHA-256 of the bytes). <see cref="GetOrCreateAsync"/> reads, in order: <see cref="MemoryTier"/> (tier 1);
/// the URI → content map (here, then in the shared tier) so a known task is neither downloaded nor decoded again; the
/// shared tier (<see cref="IDistributedEmbeddingTier"/>, Redis); and only then fetches and encodes, once per process
/// (<see cref="SingleFlight{T}"/> per URI and per content) and once per cluster (the shared tier's encode lock), in an
/// <see cref="EncoderSlots"/> slot by priority. Failures are never cached.
/// </summary>
public sealed class EmbeddingStore : IDisposable
{
    private const int MaxUriEntries = 100_000;

    private readonly MemoryTier _memory;
    private readonly Dictionary<string, string> _hashByUri = new(StringComparer.Ordinal);
    private readonly SingleFlight<string> _resolving = new();
    private readonly SingleFlight<bool> _encoding = new();
    private readonly EncoderSlots _encoderSlots;
    private readonly TimeSpan _lockWait;
    private readonly Lazy<IDistributedEmbeddingTier> _shared;
    private readonly CacheMetrics _metrics;
    private readonly TimeProvider _time;
    private volatile bool _disposed;

    internal EmbeddingStore(CacheOptions options, CacheMetrics metrics, Lazy<IDistributedEmbeddingTier> shared, TimeProvider? timeProvider = null)
    {
        _memory = new MemoryTier(options.MemoryBytes);
        _lockWait = options.LockWait;
        _encoderSlots = new EncoderSlots(options.EncoderConcurrency);
        _metrics = metrics;
        _shared = shared;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Embeddings held in this process now.</summary>
    public int Count => _memory.Count;

    /// <summary>Bytes of embeddings held in this process now (16 MiB each).</summary>
    public long Bytes => _memory.Bytes;

    /// <summary>Encoder runs waiting for a slot.</summary>
    public int EncodesQueued => _encoderSlots.Queued;

    /// <summary>State of the shared tier, for /health. Creates the tier (its keys need the encoder file's identity).</summary>
    public DistributedTierState DistributedState => _shared.Value.State;

    /// <summary>Whether the image behind <paramref name="uri"/> is known and its embedding is held here (no fetch needed).</summary>
    public bool Contains(string uri) => TryGetKnownHash(uri, out var hash) && _memory.Contains(hash);

    /// <summary>
    /// The embedding of the image at <paramref name="uri"/>, with a reference taken for the caller, who disposes it.
    /// </summary>
    /// <param name="uri">Identity of the image source (Label Studio host + task image URI).</param>
    /// <param name="fetch">Downloads the image. Runs at most once per URI at a time, and not at all when the URI is known. The
    /// store owns what it returns and disposes it once the bytes are hashed and encoded (no copy of the file is made).</param>
    /// <param name="encode">Decodes and encodes the bytes, on a thread-pool thread, at most ENCODER_CONCURRENCY at once; the
    /// bytes are valid only during the call.</param>
    /// <param name="priority">Who waits: clicks overtake queued prefetches of other images, and promote a queued one of theirs.</param>
    public async Task<ImageEmbedding> GetOrCreateAsync(
        string uri,
        Func<CancellationToken, Task<IMemoryOwner<byte>>> fetch,
        Func<ReadOnlyMemory<byte>, ImageEmbedding> encode,
        EncodePriority priority,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (TryGetKnownHash(uri, out var known) && _memory.TryGet(known, out var hit))
            {
                _metrics.Lookup("memory", hit: true);
                return hit;
            }
            _metrics.Lookup("memory", hit: false);
            var hash = await _resolving.Join(uri, priority, flight => ResolveAsync(uri, fetch, encode, flight))
                .Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (_memory.TryGet(hash, out var fresh)) return fresh;
            // Evicted between insertion and this lookup (tiny capacity, heavy load): go round again.
        }
    }

    /// <summary>
    /// Runs <paramref name="encode"/>, an encoder run whose result is not cached here (a crop encoded for automatic masks),
    /// on a thread-pool thread in an encoder slot at <paramref name="priority"/>, so it waits behind clicks and prefetches as
    /// any encode does. The caller owns what <paramref name="encode"/> returns.
    /// </summary>
    public async Task<T> RunInEncoderSlotAsync<T>(Func<T> encode, EncodePriority priority, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var waiter = _encoderSlots.Enqueue(priority);
        try
        {
            await waiter.Granted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The queued waiter cannot be withdrawn: hand its slot straight back when it is granted.
            _ = waiter.Granted.Task.ContinueWith(static (_, slots) => ((EncoderSlots)slots!).Release(), _encoderSlots,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
        try
        {
            return await Task.Run(encode, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _encoderSlots.Release();
        }
    }

    /// <summary>
    /// Completes when no shared fetch or encode is running, including runs whose callers all gave up (a prefetch worker
    /// stopped by shutdown): such a run still holds the cluster encode lock and will insert an embedding. The host awaits
    /// this on shutdown, before the encoder, the shared tier and this store are disposed.
    /// </summary>
    public async Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var running = _resolving.Running.Concat(_encoding.Running).ToArray();
            if (running.Length == 0) return;
            await Task.WhenAll(running)
                .ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            // Map entries leave in a continuation of their own; yield so a finished run is not seen again at once.
            await Task.Yield();
        }
    }

    /// <summary>URI → content hash: known here, or recorded by a replica; else fetched and hashed. Then the content's embedding.</summary>
    private async Task<string> ResolveAsync(string uri, Func<CancellationToken, Task<IMemoryOwner<byte>>> fetch,
        Func<ReadOnlyMemory<byte>, ImageEmbedding> encode, SingleFlight<string>.Flight flight)
    {
        var shared = _shared.Value;
        IMemoryOwner<byte>? image = null;
        try
        {
            var hash = TryGetKnownHash(uri, out var known) ? known : await shared.TryGetContentHashAsync(uri, CancellationToken.None).ConfigureAwait(false);
            if (hash is null)
            {
                image = await FetchAsync(fetch).ConfigureAwait(false);
                hash = Convert.ToHexStringLower(SHA256.HashData(image.Memory.Span));
                _ = shared.SetContentHashAsync(uri, hash, CancellationToken.None);
            }
            RememberUri(uri, hash);
            if (_memory.Contains(hash)) return hash;

            // Same bytes under two URIs: the second joins the first one's run (and its bytes are released unused).
            var bytes = image;
            var encoding = _encoding.Join(hash, flight.Priority, f => LoadOrEncodeAsync(hash, bytes, fetch, encode, f));
            flight.Inner = encoding;
            encoding.Promote(flight.Priority);
            await encoding.Task.ConfigureAwait(false);
            return hash;
        }
        finally
        {
            // The encode run that used these bytes has finished: it is awaited above.
            image?.Dispose();
        }
    }

    /// <summary>The content's embedding from the shared tier, or encoded here under the cluster lock.</summary>
    /// <param name="image">The bytes when this run's resolver fetched them (it disposes them); null to fetch here.</param>
    private async Task<bool> LoadOrEncodeAsync(string hash, IMemoryOwner<byte>? image, Func<CancellationToken, Task<IMemoryOwner<byte>>> fetch,
        Func<ReadOnlyMemory<byte>, ImageEmbedding> encode, SingleFlight<bool>.Flight flight)
    {
        var shared = _shared.Value;
        if (await TryLoadSharedAsync(shared, hash).ConfigureAwait(false)) return true;
        var deadline = _time.GetTimestamp() + (long)(_lockWait.TotalSeconds * _time.TimestampFrequency);
        IMemoryOwner<byte>? fetchedHere = null;
        try
        {
            while (true)
            {
                var (outcome, lease) = await shared.TryAcquireEncodeLockAsync(hash, CancellationToken.None).ConfigureAwait(false);
                if (outcome == LockOutcome.HeldByOther)
                {
                    // Another replica is encoding this image: wait for its notice, then read its result.
                    _metrics.SingleFlightWait();
                    var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
                    var released = remaining > TimeSpan.Zero
                        && await shared.WaitForLockReleaseAsync(hash, remaining, CancellationToken.None).ConfigureAwait(false);
                    if (await TryLoadSharedAsync(shared, hash).ConfigureAwait(false)) return true;
                    // Released without a value means the owner died or failed: take over. Waited too long: encode here.
                    if (released) continue;
                }
                try
                {
                    image ??= fetchedHere = await FetchAsync(fetch).ConfigureAwait(false);
                    var embedding = await EncodeInSlotAsync(image, encode, flight).ConfigureAwait(false);
                    embedding.TryAddReference(); // held across the shared write; tier 1 may evict meanwhile
                    try
                    {
                        _memory.Insert(hash, embedding);
                        var start = Stopwatch.GetTimestamp();
                        await shared.PutAsync(hash, embedding, CancellationToken.None).ConfigureAwait(false);
                        _metrics.Stage("cache_put", start);
                    }
                    finally
                    {
                        embedding.Dispose();
                    }
                    return true;
                }
                finally
                {
                    // Releasing publishes the completion notice: waiting replicas then read the value written above.
                    if (lease is not null) await lease.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            fetchedHere?.Dispose();
        }
    }

    private async Task<IMemoryOwner<byte>> FetchAsync(Func<CancellationToken, Task<IMemoryOwner<byte>>> fetch)
    {
        var start = Stopwatch.GetTimestamp();
        var image = await fetch(CancellationToken.None).ConfigureAwait(false);
        _metrics.Stage("fetch", start);
        return image;
    }

    private async Task<bool> TryLoadSharedAsync(IDistributedEmbeddingTier shared, string hash)
    {
        var start = Stopwatch.GetTimestamp();
        var embedding = await shared.TryGetAsync(hash, CancellationToken.None).ConfigureAwait(false);
        _metrics.Stage("cache_get", start);
        if (shared.State != DistributedTierState.Disabled) _metrics.Lookup("redis", embedding is not null);
        if (embedding is null) return false;
        _memory.Insert(hash, embedding);
        return true;
    }

    private async Task<ImageEmbedding> EncodeInSlotAsync(IMemoryOwner<byte> image, Func<ReadOnlyMemory<byte>, ImageEmbedding> encode,
        SingleFlight<bool>.Flight flight)
    {
        var waiter = _encoderSlots.Enqueue(flight.Priority);
        flight.Waiter = waiter;
        await waiter.Granted.Task.ConfigureAwait(false);
        try
        {
            return await Task.Run(() => encode(image.Memory)).ConfigureAwait(false);
        }
        finally
        {
            flight.Waiter = null;
            _encoderSlots.Release();
        }
    }

    private bool TryGetKnownHash(string uri, out string hash)
    {
        lock (_hashByUri) return _hashByUri.TryGetValue(uri, out hash!);
    }

    private void RememberUri(string uri, string hash)
    {
        lock (_hashByUri)
        {
            // A bound, not an LRU: URIs cost ~200 B each and the shared tier keeps the map across a clear.
            if (_hashByUri.Count >= MaxUriEntries) _hashByUri.Clear();
            _hashByUri[uri] = hash;
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _memory.Dispose();
    }
}
