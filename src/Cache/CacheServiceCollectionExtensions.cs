using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

public static class CacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="CacheOptions"/> (validated now), this process's metrics, the shared tier (Redis when
    /// <c>REDIS_URL</c> is set) and the embedding store. The shared tier is created on first use: its keys carry the
    /// encoder file's identity, which needs the model files.
    /// </summary>
    public static IServiceCollection AddCache(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(CacheOptions.FromConfiguration(configuration));
        var redis = RedisCacheOptions.FromConfiguration(configuration);
        services.AddSingleton(redis);
        services.AddSingleton<Sam2Metrics>();
        services.AddSingleton<IDistributedEmbeddingTier>(sp =>
        {
            if (!redis.Enabled) return NoDistributedEmbeddingTier.Instance;
            var models = sp.GetRequiredService<ModelOptions>();
            var modelId = ModelIdentity.Compute(models.ResolvePaths().Encoder);
            return DistributedEmbeddingTier.Create(redis, modelId, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Cache.Redis"));
        });
        services.AddSingleton(sp => new Lazy<IDistributedEmbeddingTier>(sp.GetRequiredService<IDistributedEmbeddingTier>));
        services.AddSingleton<EmbeddingStore>();
        return services;
    }
}
