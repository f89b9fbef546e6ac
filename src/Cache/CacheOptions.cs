namespace Sam2Interactive.Cache;

/// <summary>Settings of the embedding cache stage. Api fills them from the environment (docs/configuration.md).</summary>
public sealed class CacheOptions
{
    /// <summary>
    /// 1536 MiB (96 images): with SAM2.1-tiny a replica then stays within a 4 GiB container during an encode, with about
    /// 1 GiB to spare (docs/scaling.md, "Memory of a replica").
    /// </summary>
    public const long DefaultMemoryBytes = 1536L << 20;

    /// <value><c>CACHE_MEMORY_MB</c>: bytes of embeddings kept in process (16 MiB each as float32). Default
    /// <see cref="DefaultMemoryBytes"/>.</value>
    public long MemoryBytes { get; init; } = DefaultMemoryBytes;

    /// <value><c>ENCODER_CONCURRENCY</c>: encoder runs at once in this process. Default 1 (one per device).</value>
    public int EncoderConcurrency { get; init; } = 1;

    /// <value><c>LOCK_WAIT</c>: how long a replica waits for another replica's encoder run of the same image before encoding
    /// it itself. Default 120 s.</value>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromSeconds(120);

    /// <value>The shared tier (<c>REDIS_URL</c>, <c>CACHE_*</c>, <c>LOCK_TTL</c>); disabled when REDIS_URL is unset.</value>
    public RedisCacheOptions Redis { get; init; } = new();
}
