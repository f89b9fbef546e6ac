using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Sam2Interactive.Cache;

public static class CacheServiceCollectionExtensions
{
    /// <summary>Registers the embedding cache tiers.</summary>
    public static IServiceCollection AddCache(this IServiceCollection services, IConfiguration configuration)
    {
        return services;
    }
}
