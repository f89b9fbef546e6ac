using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// The embedding cache. Tier 1: an in-process LRU bounded by bytes, keyed by the SHA-256 of the image bytes, plus a map from
/// image URI to that hash so a click on a known task neither downloads nor decodes the image again. Tier 2
/// (<see cref="IDistributedEmbeddingTier"/>, Redis): shared by the replicas, with the URI map and a cluster-wide encode lock.
/// Concurrent requests in this process share one fetch and one encoder run; across replicas the lock makes the cluster
/// encode an image once. Failures are never cached.
/// </summary>
internal sealed class EmbeddingStore : IDisposable
{
    private const long BytesPerEmbedding = ImageEmbedding.TotalLength * sizeof(float);
    private const int MaxUriEntries = 100_000;

    private readonly object _gate = new();
    private readonly LinkedList<(string Hash, ImageEmbedding Embedding)> _lru = new();
    private readonly Dictionary<string, LinkedListNode<(string Hash, ImageEmbedding Embedding)>> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _hashByUri = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Flight<string>> _resolving = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Flight<bool>> _encoding = new(StringComparer.Ordinal);
    private readonly PrioritySlots _encoderSlots;
    private readonly long _capacityBytes;
    private readonly TimeSpan _lockWait;
    private readonly Lazy<IDistributedEmbeddingTier> _tier2;
    private readonly Sam2Metrics _metrics;
    private bool _disposed;

    public EmbeddingStore(CacheOptions options, Sam2Metrics metrics, Lazy<IDistributedEmbeddingTier> tier2)
    {
        _capacityBytes = options.MemoryBytes;
        _lockWait = options.LockWait;
        _encoderSlots = new PrioritySlots(options.EncoderConcurrency);
        _metrics = metrics;
        _tier2 = tier2;
    }

    /// <summary>Embeddings held in this process now.</summary>
    public int Count
    {
        get { lock (_gate) return _lru.Count; }
    }

    /// <summary>Bytes of embeddings held in this process now (16 MiB each).</summary>
    public long Bytes => Count * BytesPerEmbedding;

    /// <summary>Encoder runs waiting for a slot.</summary>
    public int EncodesQueued => _encoderSlots.Queued;

    /// <summary>State of the shared tier, for /health: disabled, connected or degraded. Creates it (needs the model files).</summary>
    public string DistributedState => _tier2.Value.State;

    /// <summary>Whether the image behind <paramref name="uri"/> is known and its embedding is held here (no fetch needed).</summary>
    public bool Contains(string uri)
    {
        if (!_hashByUri.TryGetValue(uri, out var hash)) return false;
        lock (_gate) return _byHash.ContainsKey(hash);
    }

    /// <summary>
    /// The embedding of the image at <paramref name="uri"/>: from memory when held, else from the shared tier, else fetched
    /// once and encoded once (per process, and per cluster through the shared lock) however many callers ask.
    /// </summary>
    /// <param name="uri">Identity of the image source (Label Studio host + task image URI).</param>
    /// <param name="fetch">Downloads the image bytes; runs at most once per URI at a time, and not at all when the URI is known.</param>
    /// <param name="encode">Decodes and encodes the bytes (on a thread-pool thread, at most ENCODER_CONCURRENCY at once).</param>
    /// <param name="priority">Who waits: clicks overtake queued prefetches of other images, and promote a queued one of theirs.</param>
    /// <returns>An embedding with a reference taken for the caller, who must dispose it.</returns>
    public async Task<ImageEmbedding> GetOrCreateAsync(
        string uri, Func<CancellationToken, Task<byte[]>> fetch, Func<byte[], ImageEmbedding> encode, EncodePriority priority, CancellationToken cancellationToken)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
            if (_hashByUri.TryGetValue(uri, out var known) && TryGet(known, out var hit))
            {
                _metrics.Lookup("memory", hit: true);
                return hit;
            }
            _metrics.Lookup("memory", hit: false);
            // The shared work runs without the caller's token: one caller giving up must not fail the others.
            var hash = await Flight<string>.Join(_resolving, uri, priority, f => ResolveAsync(uri, fetch, encode, f))
                .Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (TryGet(hash, out var fresh)) return fresh;
            // Evicted between insertion and our lookup (tiny capacity, heavy load): go round again.
        }
    }

    /// <summary>
    /// Completes when no shared fetch or encode is running, including runs whose callers all gave up (a prefetch worker
    /// stopped by shutdown): such a run still holds the cluster encode lock and will insert an embedding. The host awaits
    /// this on shutdown, before the encoder, the Redis tier and this store are disposed. Runs started meanwhile are
    /// awaited too; their failures are their callers' to report.
    /// </summary>
    public async Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var running = _resolving.Values.Select(f => (Task)f.Task).Concat(_encoding.Values.Select(f => (Task)f.Task)).ToArray();
            if (running.Length == 0) return;
            await Task.WhenAll(running)
                .ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            // Map entries leave in a continuation of their own; yield so a finished run is not seen again at once.
            await Task.Yield();
        }
    }

    private async Task<string> ResolveAsync(string uri, Func<CancellationToken, Task<byte[]>> fetch, Func<byte[], ImageEmbedding> encode, Flight<string> flight)
    {
        var tier2 = _tier2.Value;
        var hash = _hashByUri.GetValueOrDefault(uri) ?? await tier2.TryGetContentHashAsync(uri, CancellationToken.None).ConfigureAwait(false);
        byte[]? bytes = null;
        if (hash is null)
        {
            bytes = await FetchAsync(fetch).ConfigureAwait(false);
            hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            _ = tier2.SetContentHashAsync(uri, hash, CancellationToken.None);
        }
        RememberUri(uri, hash);
        if (ContainsHash(hash)) return hash;

        // Same bytes under two URIs: the second joins the first one's run.
        var encoding = Flight<bool>.Join(_encoding, hash, flight.Priority, f => LoadOrEncodeAsync(hash, bytes, fetch, encode, f));
        flight.Inner = encoding;
        encoding.Promote(flight.Priority);
        await encoding.Task.ConfigureAwait(false);
        return hash;
    }

    private async Task<bool> LoadOrEncodeAsync(string hash, byte[]? bytes, Func<CancellationToken, Task<byte[]>> fetch,
        Func<byte[], ImageEmbedding> encode, Flight<bool> flight)
    {
        var tier2 = _tier2.Value;
        if (await TryLoadSharedAsync(tier2, hash).ConfigureAwait(false)) return true;
        var deadline = Stopwatch.GetTimestamp() + (long)(_lockWait.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var (outcome, lease) = await tier2.TryAcquireEncodeLockAsync(hash, CancellationToken.None).ConfigureAwait(false);
            if (outcome == LockOutcome.HeldByOther)
            {
                // Another replica is encoding this image: wait for its notice, then read its result.
                _metrics.SingleFlightWaits.Inc();
                var remaining = TimeSpan.FromSeconds(Math.Max(0, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
                var released = remaining > TimeSpan.Zero && await tier2.WaitForLockReleaseAsync(hash, remaining, CancellationToken.None).ConfigureAwait(false);
                if (await TryLoadSharedAsync(tier2, hash).ConfigureAwait(false)) return true;
                // Released without a value means the owner died or failed: take over. Waited too long: encode here.
                if (released) continue;
            }
            var owned = lease;
            try
            {
                bytes ??= await FetchAsync(fetch).ConfigureAwait(false);
                var embedding = await EncodeWithSlotAsync(bytes, encode, flight).ConfigureAwait(false);
                embedding.TryAddReference(); // held across the shared write; tier 1 may evict meanwhile
                try
                {
                    Insert(hash, embedding);
                    var start = Stopwatch.GetTimestamp();
                    await tier2.PutAsync(hash, embedding, CancellationToken.None).ConfigureAwait(false);
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
                if (owned is not null) await owned.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<byte[]> FetchAsync(Func<CancellationToken, Task<byte[]>> fetch)
    {
        var start = Stopwatch.GetTimestamp();
        var bytes = await fetch(CancellationToken.None).ConfigureAwait(false);
        _metrics.Stage("fetch", start);
        return bytes;
    }

    private async Task<bool> TryLoadSharedAsync(IDistributedEmbeddingTier tier2, string hash)
    {
        var start = Stopwatch.GetTimestamp();
        var shared = await tier2.TryGetAsync(hash, CancellationToken.None).ConfigureAwait(false);
        _metrics.Stage("cache_get", start);
        if (tier2.State != "disabled") _metrics.Lookup("redis", shared is not null);
        if (shared is null) return false;
        Insert(hash, shared);
        return true;
    }

    private async Task<ImageEmbedding> EncodeWithSlotAsync(byte[] bytes, Func<byte[], ImageEmbedding> encode, IPrioritized flight)
    {
        var waiter = _encoderSlots.Enqueue(flight.Priority);
        flight.Waiter = waiter;
        await waiter.Granted.Task.ConfigureAwait(false);
        try
        {
            var embedding = await Task.Run(() => encode(bytes)).ConfigureAwait(false);
            _metrics.EncoderRuns.Inc();
            return embedding;
        }
        finally
        {
            flight.Waiter = null;
            _encoderSlots.Release();
        }
    }

    private bool ContainsHash(string hash)
    {
        lock (_gate) return _byHash.ContainsKey(hash);
    }

    private bool TryGet(string hash, out ImageEmbedding embedding)
    {
        lock (_gate)
        {
            if (_byHash.TryGetValue(hash, out var node) && node.Value.Embedding.TryAddReference())
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                embedding = node.Value.Embedding;
                return true;
            }
        }
        embedding = null!;
        return false;
    }

    /// <summary>Takes ownership of the creator's reference; evicts least-recently-used entries beyond the byte cap. After
    /// <see cref="Dispose"/> (a run that outlived the shutdown timeout) the embedding is released at once.</summary>
    private void Insert(string hash, ImageEmbedding embedding)
    {
        List<ImageEmbedding>? evicted = null;
        lock (_gate)
        {
            if (_disposed || _byHash.ContainsKey(hash))
            {
                (evicted ??= []).Add(embedding);
            }
            else
            {
                _byHash[hash] = _lru.AddFirst((hash, embedding));
            }
            // Keep at least the newest entry even when the cap is below one embedding, so its waiters can use it.
            while (_lru.Count > 1 && _lru.Count * BytesPerEmbedding > _capacityBytes)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _byHash.Remove(last.Value.Hash);
                (evicted ??= []).Add(last.Value.Embedding);
            }
        }
        // Holders of other references keep their buffers until they dispose.
        if (evicted is not null) foreach (var e in evicted) e.Dispose();
    }

    private void RememberUri(string uri, string hash)
    {
        if (_hashByUri.Count >= MaxUriEntries) _hashByUri.Clear();
        _hashByUri[uri] = hash;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var (_, e) in _lru) e.Dispose();
            _lru.Clear();
            _byHash.Clear();
        }
    }

    /// <summary>Something that waits for an encoder slot with a priority that joiners can raise.</summary>
    private interface IPrioritized
    {
        EncodePriority Priority { get; }

        PrioritySlots.Waiter? Waiter { get; set; }

        void Promote(EncodePriority priority);
    }

    /// <summary>
    /// One shared run per key: joiners await the same task; a joiner with a higher priority raises the run's priority, also
    /// while it is queued for an encoder slot. The entry leaves the map when the run ends, success or not.
    /// </summary>
    private sealed class Flight<T> : IPrioritized
    {
        private readonly TaskCompletionSource<Task<T>> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _priority;

        private Flight(EncodePriority priority) => _priority = (int)priority;

        public EncodePriority Priority => (EncodePriority)Volatile.Read(ref _priority);

        public PrioritySlots.Waiter? Waiter { get; set; }

        /// <summary>The nested run this one waits on (resolve → encode), so a promotion reaches the queued slot.</summary>
        public IPrioritized? Inner { get; set; }

        public Task<T> Task => _started.Task.Unwrap();

        public static Flight<T> Join(ConcurrentDictionary<string, Flight<T>> map, string key, EncodePriority priority, Func<Flight<T>, Task<T>> work)
        {
            var mine = new Flight<T>(priority);
            var actual = map.GetOrAdd(key, mine);
            if (!ReferenceEquals(actual, mine))
            {
                actual.Promote(priority);
                return actual;
            }
            Task<T> task;
            try
            {
                task = work(mine);
            }
            catch (Exception e)
            {
                task = System.Threading.Tasks.Task.FromException<T>(e);
            }
            task.ContinueWith(
                static (_, state) => { var (m, k, f) = ((ConcurrentDictionary<string, Flight<T>>, string, Flight<T>))state!; m.TryRemove(KeyValuePair.Create(k, f)); },
                (map, key, mine), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            mine._started.SetResult(task);
            return mine;
        }

        public void Promote(EncodePriority priority)
        {
            PrioritySlots.RaiseTo(ref _priority, priority);
            Waiter?.Promote(priority);
            Inner?.Promote(priority);
        }
    }
}
