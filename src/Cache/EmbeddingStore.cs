using System.Collections.Concurrent;
using System.Security.Cryptography;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// Tier 1 of the embedding cache: an in-process LRU bounded by bytes, keyed by the SHA-256 of the image bytes, plus a map
/// from image URI to that hash so a click on a known task neither downloads nor decodes the image again. Concurrent
/// requests for one image share one fetch and one encoder run (single-flight). Failures are never cached.
/// </summary>
internal sealed class EmbeddingStore : IDisposable
{
    private const long BytesPerEmbedding = ImageEmbedding.TotalLength * sizeof(float);
    private const int MaxUriEntries = 100_000;

    private readonly object _gate = new();
    private readonly LinkedList<(string Hash, ImageEmbedding Embedding)> _lru = new();
    private readonly Dictionary<string, LinkedListNode<(string Hash, ImageEmbedding Embedding)>> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _hashByUri = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _fetching = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _encoding = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _encoderSlots;
    private readonly long _capacityBytes;
    private long _hits;
    private long _misses;

    public EmbeddingStore(CacheOptions options)
    {
        _capacityBytes = options.MemoryBytes;
        _encoderSlots = new SemaphoreSlim(options.EncoderConcurrency, options.EncoderConcurrency);
    }

    /// <summary>Embeddings held now.</summary>
    public int Count
    {
        get { lock (_gate) return _lru.Count; }
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Whether the image behind <paramref name="uri"/> is known and its embedding is held (no fetch needed).</summary>
    public bool Contains(string uri)
    {
        if (!_hashByUri.TryGetValue(uri, out var hash)) return false;
        lock (_gate) return _byHash.ContainsKey(hash);
    }

    /// <summary>
    /// The embedding of the image at <paramref name="uri"/>: from memory when held, else fetched once and encoded once however
    /// many callers ask at the same time.
    /// </summary>
    /// <param name="uri">Identity of the image source (Label Studio host + task image URI).</param>
    /// <param name="fetch">Downloads the image bytes; runs at most once per URI at a time.</param>
    /// <param name="encode">Decodes and encodes the bytes (runs on a thread-pool thread, at most ENCODER_CONCURRENCY at once).</param>
    /// <returns>An embedding with a reference taken for the caller, who must dispose it.</returns>
    public async Task<ImageEmbedding> GetOrCreateAsync(
        string uri, Func<CancellationToken, Task<byte[]>> fetch, Func<byte[], ImageEmbedding> encode, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_hashByUri.TryGetValue(uri, out var known) && TryGet(known, out var hit))
            {
                Interlocked.Increment(ref _hits);
                return hit;
            }
            Interlocked.Increment(ref _misses);
            // The shared work runs without the caller's token: one caller giving up must not fail the others.
            var hash = await SingleFlight(_fetching, uri, () => FetchAndEncodeAsync(uri, fetch, encode)).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (TryGet(hash, out var fresh)) return fresh;
            // Evicted between insertion and our lookup (tiny capacity, heavy load): go round again.
        }
    }

    private async Task<string> FetchAndEncodeAsync(string uri, Func<CancellationToken, Task<byte[]>> fetch, Func<byte[], ImageEmbedding> encode)
    {
        var bytes = await fetch(CancellationToken.None).ConfigureAwait(false);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!ContainsHash(hash))
        {
            // Same bytes under two URIs: the second waits for the first one's encoder run.
            await SingleFlight(_encoding, hash, () => EncodeAsync(hash, bytes, encode)).ConfigureAwait(false);
        }
        RememberUri(uri, hash);
        return hash;
    }

    /// <summary>Runs <paramref name="work"/> once per key at a time; the entry leaves the map when the work ends, success or not.</summary>
    private static Task<T> SingleFlight<T>(ConcurrentDictionary<string, Lazy<Task<T>>> map, string key, Func<Task<T>> work)
    {
        var mine = new Lazy<Task<T>>(work);
        var actual = map.GetOrAdd(key, mine);
        if (ReferenceEquals(actual, mine))
        {
            mine.Value.ContinueWith(
                static (_, state) => { var (m, k, l) = ((ConcurrentDictionary<string, Lazy<Task<T>>>, string, Lazy<Task<T>>))state!; m.TryRemove(KeyValuePair.Create(k, l)); },
                (map, key, mine), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return actual.Value;
    }

    private async Task<bool> EncodeAsync(string hash, byte[] bytes, Func<byte[], ImageEmbedding> encode)
    {
        await _encoderSlots.WaitAsync().ConfigureAwait(false);
        ImageEmbedding embedding;
        try
        {
            embedding = await Task.Run(() => encode(bytes)).ConfigureAwait(false);
        }
        finally
        {
            _encoderSlots.Release();
        }
        Insert(hash, embedding);
        return true;
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

    /// <summary>Takes ownership of the creator's reference; evicts least-recently-used entries beyond the byte cap.</summary>
    private void Insert(string hash, ImageEmbedding embedding)
    {
        List<ImageEmbedding>? evicted = null;
        lock (_gate)
        {
            if (_byHash.ContainsKey(hash))
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
            foreach (var (_, e) in _lru) e.Dispose();
            _lru.Clear();
            _byHash.Clear();
        }
        _encoderSlots.Dispose();
    }
}
