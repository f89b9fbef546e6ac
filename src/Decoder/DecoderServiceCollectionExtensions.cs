using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Sam2Interactive.Decoder;

public static class DecoderServiceCollectionExtensions
{
    /// <summary>Registers the prompt decoder session, mask post-processing and brush RLE.</summary>
    public static IServiceCollection AddDecoder(this IServiceCollection services, IConfiguration configuration)
    {
        return services;
    }
}
