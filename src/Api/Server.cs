using Sam2Interactive.Api.Automatic;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.ImageApi;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Api.Playground;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

/// <summary>The composition root: settings, stages, host services, endpoints.</summary>
internal static class Server
{
    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (SettingException e)
        {
            await Console.Error.WriteLineAsync("sam2i: invalid configuration: " + e.Message);
            return 2;
        }
        // Taken now: RunAsync disposes the service provider, and app.Lifetime resolves from it.
        var stopping = app.Lifetime.ApplicationStopping;
        try
        {
            await app.RunAsync();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The host was told to stop while still starting: ModelWarmup found a missing or corrupt model file (it has
            // logged the message naming the file and set the exit code), or SIGTERM came early. Host.StartAsync then
            // throws; exit with the code instead of an unhandled-exception trace.
        }
        return Environment.ExitCode;
    }

    /// <summary>Builds the server. Tests pass <paramref name="overrides"/> to override environment settings.</summary>
    /// <exception cref="SettingException">A setting is invalid; the message names it.</exception>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        var settings = Sam2Settings.Read(builder.Configuration);
        if (settings.Server.LogLevel is { } level) builder.Logging.SetMinimumLevel(level);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
            builder.WebHost.UseUrls(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"http://0.0.0.0:{settings.Server.Port}"));
        // SIGTERM: stop accepting, let in-flight clicks finish (and release their encode locks) within SHUTDOWN_TIMEOUT.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Server.ShutdownTimeout);
        RequestBodyLimit.Configure(builder.WebHost, settings.Server.MaxRequestBytes);

        builder.Services.AddSegmentation(settings);
        builder.Services.AddSingleton<PrometheusExporter>();
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddHostedService<ModelWarmup>();
        builder.Services.AddSingleton<PrefetchQueue>();
        builder.Services.AddSingleton<SetupFindingsLog>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PrefetchQueue>());
        // The HTTP API's bodies through their source-generated context, so the OpenAPI schemas carry the wire names.
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            ImageApiJson.Apply(o.SerializerOptions);
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ImageApiJsonContext.Default);
        });
        builder.Services.AddOpenApi(ImageApiOpenApi.Configure);

        var app = builder.Build();
        // Created now, before any instrument records: the exporter only sees measurements made after it listens.
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        app.UseLabelStudioBasicAuth(settings.Server.BasicAuth);
        // After auth: only a client that may use the server gets its oversized body read.
        app.UseReadableBodyLimit(settings.Server.MaxRequestBytes);
        app.UseRequestMetrics();
        app.MapGet("/metrics", () => Results.Text(exporter.Collect(), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapLabelStudioEndpoints(settings.Server);
        app.MapImageApi();
        app.MapOpenApi();
        app.MapPlayground();
        return app;
    }

    /// <summary>
    /// The stages and the host's segmentation services (fetching, the click path, automatic masks and the Label Studio API
    /// client): what the server and the in-process command-line tools (<c>annotate</c>) share.
    /// </summary>
    public static IServiceCollection AddSegmentation(this IServiceCollection services, Sam2Settings settings)
    {
        services
            .AddEncoder(settings.Model)
            .AddDecoder(settings.Decoder)
            .AddCache(settings.Cache);
        services.AddMetrics();
        services.AddSingleton(settings.Server);
        services.AddSingleton(settings.LabelStudio);
        services.AddSingleton<ApiMetrics>();
        services.AddSingleton<ImageFetcher>();
        services.AddSingleton(new LabelConfigParser());
        services.AddSingleton(settings.Output);
        services.AddSingleton<MaskRegions>();
        services.AddSingleton<SegmentationService>();
        services.AddAutomaticMasks(settings);
        return services;
    }
}
