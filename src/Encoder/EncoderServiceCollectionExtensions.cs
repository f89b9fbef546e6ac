using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Encoder;

public static class EncoderServiceCollectionExtensions
{
    /// <summary>
    /// Registers the encoder stage: its options (also read by the decoder and cache stages), metrics, the
    /// <see cref="EmbeddingPool"/> unless a stage registered its own (the cache stage sizes it by CACHE_MEMORY_MB), and the
    /// encoder session, created on first use (the host's warm-up resolves it before reporting ready).
    /// </summary>
    public static IServiceCollection AddEncoder(this IServiceCollection services, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(options);
        services.AddSingleton(sp => new EncoderMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(EmbeddingPool.Shared);
        services.AddSingleton(sp => new Sam2Encoder(options.ResolvePaths().Encoder, options,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Encoder"), sp.GetRequiredService<EncoderMetrics>(),
            sp.GetRequiredService<EmbeddingPool>()));
        return services;
    }
}
