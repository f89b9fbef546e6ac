using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Sam2Interactive.Cache;

public static class CacheServiceCollectionExtensions
{
    /// <summary>Registers <see cref="CacheOptions"/> (validated now) and the in-process embedding store.</summary>
    public static IServiceCollection AddCache(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(CacheOptions.FromConfiguration(configuration));
        services.AddSingleton<EmbeddingStore>();
        return services;
    }
}
