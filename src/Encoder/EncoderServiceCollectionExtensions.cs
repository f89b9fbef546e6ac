using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Sam2Interactive.Encoder;

public static class EncoderServiceCollectionExtensions
{
    /// <summary>Registers image decoding, SAM2 preprocessing and the encoder session.</summary>
    public static IServiceCollection AddEncoder(this IServiceCollection services, IConfiguration configuration)
    {
        return services;
    }
}
