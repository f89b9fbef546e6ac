using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Encoder;

public static class EncoderServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ModelOptions"/> (validated now: a bad setting fails start-up with its name) and the encoder session,
    /// created on first use (the host's warm-up resolves it before reporting ready).
    /// </summary>
    public static IServiceCollection AddEncoder(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(ModelOptions.FromConfiguration(configuration));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<ModelOptions>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Encoder");
            return new Sam2Encoder(options.ResolvePaths().Encoder, options, logger);
        });
        return services;
    }
}
