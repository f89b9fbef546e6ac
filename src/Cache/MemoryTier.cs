using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// Tier 1: embeddings held in this process, keyed by the SHA-256 of the image bytes, least recently used evicted first
/// once their bytes exceed the cap. Holds one reference per entry; readers take their own, so an entry evicted while a
/// click uses it keeps its buffers until that click disposes. Thread-safe.
/// </summary>
internal sealed class MemoryTier : IDisposable
{
    /// <summary>Bytes of one embedding as tier 1 holds it (float32).</summary>
    public const long BytesPerEmbedding = ImageEmbedding.TotalLength * sizeof(float);

    private readonly object _gate = new();
    private readonly LinkedList<(string Hash, ImageEmbedding Embedding)> _lru = new();
    private readonly Dictionary<string, LinkedListNode<(string Hash, ImageEmbedding Embedding)>> _byHash = new(StringComparer.Ordinal);
    private readonly long _capacityBytes;
    private bool _disposed;

    /// <param name="capacityBytes">The byte cap; the newest entry is kept even when one embedding is above it.</param>
    public MemoryTier(long capacityBytes) => _capacityBytes = capacityBytes;

    public int Count
    {
        get { lock (_gate) return _lru.Count; }
    }

    public long Bytes => Count * BytesPerEmbedding;

    public bool Contains(string hash)
    {
        lock (_gate) return _byHash.ContainsKey(hash);
    }

    /// <summary>The original image size of a held embedding, without taking a reference or touching its recency.</summary>
    public bool TryGetSize(string hash, out int width, out int height)
    {
        lock (_gate)
        {
            if (_byHash.TryGetValue(hash, out var node))
            {
                (width, height) = (node.Value.Embedding.OriginalWidth, node.Value.Embedding.OriginalHeight);
                return true;
            }
        }
        (width, height) = (0, 0);
        return false;
    }

    /// <summary>The embedding with a reference taken for the caller (who disposes it), and marks it most recently used.</summary>
    public bool TryGet(string hash, out ImageEmbedding embedding)
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

    /// <summary>
    /// Takes ownership of the caller's reference; evicts least recently used entries beyond the cap. A hash already held, or
    /// a tier already disposed (a run that outlived the shutdown timeout), releases the reference at once.
    /// </summary>
    public void Insert(string hash, ImageEmbedding embedding)
    {
        List<ImageEmbedding>? released = null;
        lock (_gate)
        {
            if (_disposed || _byHash.ContainsKey(hash))
            {
                (released ??= []).Add(embedding);
            }
            else
            {
                _byHash[hash] = _lru.AddFirst((hash, embedding));
            }
            while (_lru.Count > 1 && _lru.Count * BytesPerEmbedding > _capacityBytes)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _byHash.Remove(last.Value.Hash);
                (released ??= []).Add(last.Value.Embedding);
            }
        }
        // Outside the lock: the last reference returns 16 MiB of buffers to the pool.
        if (released is not null) foreach (var e in released) e.Dispose();
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
}
