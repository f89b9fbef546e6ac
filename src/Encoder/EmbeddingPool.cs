namespace Sam2Interactive.Encoder;

/// <summary>
/// The buffers of <see cref="ImageEmbedding"/>s: one float32 array of <see cref="ImageEmbedding.TotalLength"/> (16 MiB) per
/// embedding, the three tensors back to back. A returned array is kept for the next embedding only while the arrays in use
/// plus those kept stay within <see cref="MaxArrays"/>; beyond that it goes to the GC. So the memory embeddings take is
/// bounded by what is held (the cache, the runs in flight), never by history: <c>ArrayPool&lt;float&gt;.Shared</c>, used
/// before issue 15, keeps up to 32 arrays per size per core plus one per thread, and gives them back only when a gen-2
/// collection trims it. Thread-safe.
/// </summary>
public sealed class EmbeddingPool
{
    private readonly object _gate = new();
    private readonly Stack<float[]> _kept = new();
    private int _rented;
    private long _allocated;

    /// <param name="maxArrays">At least 1: arrays in use plus arrays kept, above which returned arrays are dropped.</param>
    public EmbeddingPool(int maxArrays)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxArrays, 1);
        MaxArrays = maxArrays;
    }

    /// <summary>The pool of embeddings made without one (tools, tests): keeps at most 2 arrays.</summary>
    public static EmbeddingPool Shared { get; } = new(2);

    /// <summary>Arrays in use plus kept above which a returned array is dropped.</summary>
    public int MaxArrays { get; }

    /// <summary>Arrays handed out and not returned yet.</summary>
    public int Rented
    {
        get { lock (_gate) return _rented; }
    }

    /// <summary>Returned arrays kept for reuse (never more than <see cref="MaxArrays"/> minus <see cref="Rented"/>).</summary>
    public int Kept
    {
        get { lock (_gate) return _kept.Count; }
    }

    /// <summary>Arrays allocated since start: each one a rent that found none kept.</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    /// <summary>
    /// The array count for an in-process cache of <paramref name="cacheBytes"/> (the cache keeps at least its newest
    /// embedding) and <paramref name="encoderConcurrency"/> encoder runs at once, each writing into a new embedding.
    /// </summary>
    public static int ArraysFor(long cacheBytes, int encoderConcurrency)
    {
        var entries = Math.Max(1, cacheBytes / (ImageEmbedding.TotalLength * (long)sizeof(float)));
        return (int)Math.Min(int.MaxValue, entries + Math.Max(1, encoderConcurrency));
    }

    /// <summary>An array of <see cref="ImageEmbedding.TotalLength"/> floats, uninitialised; the caller returns it once.</summary>
    internal float[] Rent()
    {
        lock (_gate)
        {
            _rented++;
            if (_kept.TryPop(out var array)) return array;
        }
        Interlocked.Increment(ref _allocated);
        // Pinned heap: ONNX Runtime pins the array for every run that reads or writes it, and the pinned object heap is
        // never compacted, so 16 MiB arrays are neither copied by a compacting GC nor left as holes in the large object heap.
        return GC.AllocateUninitializedArray<float>(ImageEmbedding.TotalLength, pinned: true);
    }

    internal void Return(float[] array)
    {
        lock (_gate)
        {
            _rented--;
            if (_rented + _kept.Count < MaxArrays) _kept.Push(array);
        }
    }
}
