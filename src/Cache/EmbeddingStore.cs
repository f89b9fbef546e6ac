using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// The embedding cache the click path calls. An image is known by its URI (Label Studio host + task image URI) and by its
/// content (SHA-256 of the bytes). <see cref="GetOrCreateAsync"/> (by URI) reads, in order: <see cref="MemoryTier"/> (tier 1);
/// the URI → content map (here, then in the shared tier) so a known task is neither downloaded nor decoded again; the
/// shared tier (<see cref="IDistributedEmbeddingTier"/>, Redis); and only then fetches and encodes, once per process
/// (<see cref="SingleFlight{T}"/> per URI and per content) and once per cluster (the shared tier's encode lock), in an
/// <see cref="EncoderSlots"/> slot by priority. Failures are never cached. Clients that hold the bytes themselves (the HTTP
/// API) use the content-keyed members: <see cref="GetOrCreateByContentAsync"/>,
/// <see cref="TryGetAsync"/> and <see cref="LocateAsync"/>; they share tier 1, the per-content single flight, the shared
/// tier and the cluster lock with the URI path, so an image Label Studio also serves is encoded once.
/// </summary>
public sealed class EmbeddingStore : IDisposable
{
    private const int MaxUriEntries = 100_000;

    private readonly MemoryTier _memory;
    private readonly Dictionary<string, string> _hashByUri = new(StringComparer.Ordinal);
    private readonly SingleFlight<string> _resolving = new();
    private readonly SingleFlight<bool> _encoding = new();
    private readonly SingleFlight<bool> _loading = new();
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

    /// <summary>The content key of an image: the lowercase hex SHA-256 of its bytes (the HTTP API's <c>image_id</c>).</summary>
    public static string ContentHash(ReadOnlySpan<byte> image) => Convert.ToHexStringLower(SHA256.HashData(image));

    /// <summary>
    /// The embedding of the image in <paramref name="image"/>, keyed by its content, with a reference taken for the caller,
    /// who disposes it. The store takes ownership of <paramref name="image"/> in every case (success, failure, cancellation)
    /// and disposes it once no run needs the bytes; no copy is made.
    /// </summary>
    /// <param name="encode">As for <see cref="GetOrCreateAsync"/>: decodes and encodes the bytes, in an encoder slot.</param>
    /// <returns>The content hash, the embedding, and whether it was already held here or in the shared tier (no encode
    /// was needed for this call).</returns>
    public async Task<ContentEmbedding> GetOrCreateByContentAsync(IMemoryOwner<byte> image, Func<ReadOnlyMemory<byte>, ImageEmbedding> encode,
        EncodePriority priority, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        // The caller's reference; a run this call starts takes its own, so the bytes outlive a caller that gives up.
        var bytes = new SharedBytes(image);
        try
        {
            var hash = ContentHash(bytes.Memory.Span);
            while (true)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_memory.TryGet(hash, out var hit))
                {
                    _metrics.Lookup("memory", hit: true);
                    return new ContentEmbedding(hash, hit, Cached: true);
                }
                _metrics.Lookup("memory", hit: false);
                var run = _encoding.Join(hash, priority, flight => EncodeOwnedAsync(hash, bytes.AddReference(), encode, flight));
                var encoded = await run.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                if (_memory.TryGet(hash, out var fresh)) return new ContentEmbedding(hash, fresh, Cached: !encoded);
                // Evicted between insertion and this lookup (tiny capacity, heavy load): the bytes are still held, go round again.
            }
        }
        finally
        {
            bytes.Dispose();
        }
    }

    /// <summary>
    /// The embedding of the content <paramref name="contentHash"/> if this process or the shared tier holds it, or an encode
    /// of it is running here (then it is awaited); null otherwise. Never encodes. The caller disposes a returned embedding.
    /// </summary>
    public async Task<ImageEmbedding?> TryGetAsync(string contentHash, EncodePriority priority, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentHash);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_memory.TryGet(contentHash, out var hit))
        {
            _metrics.Lookup("memory", hit: true);
            return hit;
        }
        _metrics.Lookup("memory", hit: false);
        if (_encoding.TryJoin(contentHash, priority, out var running))
        {
            try
            {
                await running.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // That run's own caller gets its error (e.g. undecodable bytes); for this lookup the content is simply not held.
                return null;
            }
        }
        else
        {
            // Evicted here, or posted to another replica: the shared tier may hold it. One read per content at a time.
            await _loading.Join(contentHash, priority, _ => TryLoadSharedAsync(_shared.Value, contentHash))
                .Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        return _memory.TryGet(contentHash, out var loaded) ? loaded : null;
    }

    /// <summary>Where the embedding of <paramref name="contentHash"/> is held now, without reading or creating it.</summary>
    public async Task<EmbeddingLocation> LocateAsync(string contentHash, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentHash);
        if (_memory.TryGetSize(contentHash, out var width, out var height))
            return new EmbeddingLocation(EmbeddingHolder.Memory, MemoryTier.BytesPerEmbedding, width, height);
        if (_encoding.IsRunning(contentHash))
            return new EmbeddingLocation(EmbeddingHolder.Encoding, 0, 0, 0);
        var stored = await _shared.Value.StoredBytesAsync(contentHash, cancellationToken).ConfigureAwait(false);
        return stored > 0 ? new EmbeddingLocation(EmbeddingHolder.Shared, stored, 0, 0) : new EmbeddingLocation(EmbeddingHolder.None, 0, 0, 0);
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
            var running = _resolving.Running.Concat(_encoding.Running).Concat(_loading.Running).ToArray();
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
            Task? mapping = null;
            if (hash is null)
            {
                image = await FetchAsync(fetch).ConfigureAwait(false);
                hash = ContentHash(image.Memory.Span);
                // Written while the image encodes, and awaited before the answer (below): once a click on this task is
                // answered, a replica asked about it finds the URI and does not download it again. Best effort: a failed
                // write only costs that replica a download.
                mapping = shared.SetContentHashAsync(uri, hash, CancellationToken.None);
            }
            RememberUri(uri, hash);
            if (!_memory.Contains(hash))
            {
                // Same bytes under two URIs: the second joins the first one's run (and its bytes are released unused).
                var bytes = image;
                var encoding = _encoding.Join(hash, flight.Priority, f => LoadOrEncodeAsync(hash, bytes, fetch, encode, f));
                flight.Inner = encoding;
                encoding.Promote(flight.Priority);
                await encoding.Task.ConfigureAwait(false);
            }
            if (mapping is not null) await mapping.ConfigureAwait(false);
            return hash;
        }
        finally
        {
            // The encode run that used these bytes has finished: it is awaited above.
            image?.Dispose();
        }
    }

    /// <summary>The content's embedding from the shared tier, or encoded here under the cluster lock.</summary>
    /// <param name="image">The bytes when this run's caller holds them (and disposes them); null to fetch here.</param>
    /// <param name="fetch">Used only when <paramref name="image"/> is null.</param>
    /// <returns>True when it was encoded here, false when read from the shared tier.</returns>
    private async Task<bool> LoadOrEncodeAsync(string hash, IMemoryOwner<byte>? image, Func<CancellationToken, Task<IMemoryOwner<byte>>>? fetch,
        Func<ReadOnlyMemory<byte>, ImageEmbedding> encode, SingleFlight<bool>.Flight flight)
    {
        var shared = _shared.Value;
        if (await TryLoadSharedAsync(shared, hash).ConfigureAwait(false)) return false;
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
                    if (await TryLoadSharedAsync(shared, hash).ConfigureAwait(false)) return false;
                    // Released without a value means the owner died or failed: take over. Waited too long: encode here.
                    if (released) continue;
                }
                try
                {
                    // Double-checked: the previous owner may have written the value and released its lock between our miss
                    // above and this acquire. A lock won after a miss is no proof that nobody encoded; read once more.
                    if (outcome == LockOutcome.Acquired && await TryLoadSharedAsync(shared, hash, countLookup: false).ConfigureAwait(false))
                        return false;
                    image ??= fetchedHere = await FetchAsync(fetch!).ConfigureAwait(false);
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

    /// <summary>An encode run over bytes the caller handed over: releases this run's reference when it ends.</summary>
    private async Task<bool> EncodeOwnedAsync(string hash, IMemoryOwner<byte> bytes, Func<ReadOnlyMemory<byte>, ImageEmbedding> encode,
        SingleFlight<bool>.Flight flight)
    {
        try
        {
            return await LoadOrEncodeAsync(hash, bytes, null, encode, flight).ConfigureAwait(false);
        }
        finally
        {
            bytes.Dispose();
        }
    }

    private async Task<IMemoryOwner<byte>> FetchAsync(Func<CancellationToken, Task<IMemoryOwner<byte>>> fetch)
    {
        var start = Stopwatch.GetTimestamp();
        var image = await fetch(CancellationToken.None).ConfigureAwait(false);
        _metrics.Stage("fetch", start);
        return image;
    }

    /// <param name="countLookup">False for the re-read after winning the lock: a miss there is the same miss counted once.</param>
    private async Task<bool> TryLoadSharedAsync(IDistributedEmbeddingTier shared, string hash, bool countLookup = true)
    {
        var start = Stopwatch.GetTimestamp();
        var embedding = await shared.TryGetAsync(hash, CancellationToken.None).ConfigureAwait(false);
        _metrics.Stage("cache_get", start);
        if (shared.State != DistributedTierState.Disabled && (countLookup || embedding is not null)) _metrics.Lookup("redis", embedding is not null);
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

    /// <summary>Image bytes shared by a caller and the run it started: the last holder to let go disposes the owner.</summary>
    private sealed class SharedBytes(IMemoryOwner<byte> owner) : IMemoryOwner<byte>
    {
        private int _references = 1;

        public Memory<byte> Memory => owner.Memory;

        public SharedBytes AddReference()
        {
            Interlocked.Increment(ref _references);
            return this;
        }

        public void Dispose()
        {
            if (Interlocked.Decrement(ref _references) == 0) owner.Dispose();
        }
    }
}

/// <summary>An embedding found or made by content, with a reference for the caller (dispose <see cref="Embedding"/>).</summary>
/// <param name="ContentHash">Lowercase hex SHA-256 of the image bytes.</param>
/// <param name="Cached">True when no encode was needed: held in this process or read from the shared tier.</param>
public readonly record struct ContentEmbedding(string ContentHash, ImageEmbedding Embedding, bool Cached);

/// <summary>Where an embedding is held.</summary>
public enum EmbeddingHolder
{
    /// <summary>Nowhere: never seen, evicted, expired, or the shared tier cannot be asked.</summary>
    None,

    /// <summary>An encode of it is running in this process.</summary>
    Encoding,

    /// <summary>In this process (tier 1), float32.</summary>
    Memory,

    /// <summary>Only in the shared tier (Redis); the next use reads it into tier 1.</summary>
    Shared,
}

/// <summary>The answer of <see cref="EmbeddingStore.LocateAsync"/>.</summary>
/// <param name="Bytes">Size of the held value: 16 MiB in tier 1, the stored value's length in the shared tier; 0 when not held.</param>
/// <param name="Width">Original image width in pixels when held in tier 1, else 0.</param>
/// <param name="Height">Original image height in pixels when held in tier 1, else 0.</param>
public readonly record struct EmbeddingLocation(EmbeddingHolder Holder, long Bytes, int Width, int Height);
