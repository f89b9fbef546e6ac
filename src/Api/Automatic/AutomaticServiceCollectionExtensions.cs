using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Api.Automatic;

internal static class AutomaticServiceCollectionExtensions
{
    /// <summary>
    /// Registers automatic masks (<see cref="AutomaticAnnotator"/>, <see cref="AutomaticPredictions"/> and its background
    /// worker) and the Label Studio API client they post through. Needs the segmentation services registered by the host.
    /// </summary>
    public static IServiceCollection AddAutomaticMasks(this IServiceCollection services, Sam2Settings settings)
    {
        services.AddSingleton(settings.Automatic);
        services.AddSingleton(sp => new LabelStudioApi(settings.LabelStudio, sp.GetService<TimeProvider>()));
        services.AddSingleton<AutomaticAnnotator>();
        services.AddSingleton<AutomaticPredictions>();
        services.AddHostedService(sp => sp.GetRequiredService<AutomaticPredictions>());
        return services;
    }
}
