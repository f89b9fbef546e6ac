using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

public static class DecoderServiceCollectionExtensions
{
    /// <summary>
    /// Registers the decoder stage: its options, metrics and the decoder session, created on first use. The decoder file
    /// is found through <see cref="ModelOptions"/>, registered by the encoder stage.
    /// </summary>
    public static IServiceCollection AddDecoder(this IServiceCollection services, DecoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(options);
        services.AddSingleton(sp => new DecoderMetrics(sp.GetService<IMeterFactory>()));
        services.AddSingleton(sp =>
        {
            var models = sp.GetRequiredService<ModelOptions>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Decoder");
            return new Sam2Decoder(models.ResolvePaths().Decoder, models, options, logger, sp.GetRequiredService<DecoderMetrics>());
        });
        return services;
    }
}
