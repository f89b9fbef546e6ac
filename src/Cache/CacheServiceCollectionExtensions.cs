using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

public static class CacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers the cache stage: its options, metrics, the <see cref="EmbeddingPool"/> sized by <see cref="CacheOptions.MemoryBytes"/>
    /// and <see cref="CacheOptions.EncoderConcurrency"/> (replacing the encoder stage's default, in either order), the shared tier (Redis when <see cref="RedisCacheOptions.Enabled"/>)
    /// and the <see cref="EmbeddingStore"/>. The shared tier is created on first use: its keys carry the encoder file's
    /// identity, which needs the model files (<see cref="ModelOptions"/>, registered by the encoder stage).
    /// </summary>
    public static IServiceCollection AddCache(this IServiceCollection services, CacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(options);
        services.AddSingleton(sp => new CacheMetrics(sp.GetService<IMeterFactory>()));
        services.Replace(ServiceDescriptor.Singleton(new EmbeddingPool(EmbeddingPool.ArraysFor(options.MemoryBytes, options.EncoderConcurrency))));
        services.AddSingleton<IDistributedEmbeddingTier>(sp =>
        {
            if (!options.Redis.Enabled) return NoDistributedEmbeddingTier.Instance;
            var modelId = ModelIdentity.Compute(sp.GetRequiredService<ModelOptions>().ResolvePaths().Encoder);
            return new RedisEmbeddingTier(options.Redis, modelId, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Cache.Redis"),
                pool: sp.GetRequiredService<EmbeddingPool>());
        });
        services.AddSingleton(sp => new EmbeddingStore(options, sp.GetRequiredService<CacheMetrics>(),
            new Lazy<IDistributedEmbeddingTier>(sp.GetRequiredService<IDistributedEmbeddingTier>)));
        return services;
    }
}
