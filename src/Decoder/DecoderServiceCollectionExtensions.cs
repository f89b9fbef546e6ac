using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

public static class DecoderServiceCollectionExtensions
{
    /// <summary>Registers <see cref="DecoderOptions"/> (validated now) and the decoder session, created on first use.</summary>
    public static IServiceCollection AddDecoder(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(DecoderOptions.FromConfiguration(configuration));
        services.AddSingleton(sp =>
        {
            var models = sp.GetRequiredService<ModelOptions>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Decoder");
            return new Sam2Decoder(models.ResolvePaths().Decoder, models, sp.GetRequiredService<DecoderOptions>(), logger);
        });
        return services;
    }
}
