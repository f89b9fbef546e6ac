using Microsoft.Extensions.Configuration;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>Settings of the embedding cache stage.</summary>
public sealed class CacheOptions
{
    /// <value><c>CACHE_MEMORY_MB</c>: bytes of embeddings kept in process (16 MiB each as float32). Default 1024 (64 images).</value>
    public long MemoryBytes { get; set; } = 1024L << 20;

    /// <value><c>ENCODER_CONCURRENCY</c>: encoder runs at once in this process. Default 1 (one per device).</value>
    public int EncoderConcurrency { get; set; } = 1;

    /// <value><c>LOCK_WAIT</c>: how long a replica waits for another replica's encoder run of the same image before encoding
    /// it itself. Default 120 s.</value>
    public TimeSpan LockWait { get; set; } = TimeSpan.FromSeconds(120);

    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public static CacheOptions FromConfiguration(IConfiguration configuration)
    {
        var defaults = new CacheOptions();
        return new CacheOptions
        {
            MemoryBytes = Settings.ReadInt64(configuration, "CACHE_MEMORY_MB", defaults.MemoryBytes >> 20, 0, 1L << 30) << 20,
            EncoderConcurrency = Settings.ReadInt(configuration, "ENCODER_CONCURRENCY", defaults.EncoderConcurrency, 1, 64),
            LockWait = Settings.ReadSeconds(configuration, "LOCK_WAIT", defaults.LockWait, 0, 3600),
        };
    }
}
