using Microsoft.Extensions.Configuration;

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
        var options = new CacheOptions();
        if (configuration["CACHE_MEMORY_MB"] is { Length: > 0 } mb)
        {
            if (!long.TryParse(mb, out var value) || value < 0 || value > 1L << 30)
                throw new ArgumentException($"CACHE_MEMORY_MB must be a whole number of megabytes (0 or more), not '{mb}'.");
            options.MemoryBytes = value << 20;
        }
        if (configuration["ENCODER_CONCURRENCY"] is { Length: > 0 } c)
        {
            if (!int.TryParse(c, out var value) || value < 1 || value > 64)
                throw new ArgumentException($"ENCODER_CONCURRENCY must be a whole number from 1 to 64, not '{c}'.");
            options.EncoderConcurrency = value;
        }
        if (configuration["LOCK_WAIT"] is { Length: > 0 } wait)
        {
            if (!double.TryParse(wait, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds < 0 || seconds > 3600)
                throw new ArgumentException($"LOCK_WAIT must be seconds from 0 to 3600, not '{wait}'.");
            options.LockWait = TimeSpan.FromSeconds(seconds);
        }
        return options;
    }
}
