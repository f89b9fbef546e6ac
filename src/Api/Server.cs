using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

/// <summary>The composition root: configuration, stages, endpoints.</summary>
internal static class Server
{
    public const int DefaultPort = 9090;

    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Invalid settings stop start-up with a message naming the setting.
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

    /// <summary>Builds the server. Tests pass <paramref name="settings"/> to override environment settings.</summary>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        // The seed backend's LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) next to ASP.NET's Logging__LogLevel__Default.
        if (builder.Configuration["LOG_LEVEL"] is { Length: > 0 } level)
        {
            builder.Logging.SetMinimumLevel(level.ToUpperInvariant() switch
            {
                "TRACE" => LogLevel.Trace,
                "DEBUG" => LogLevel.Debug,
                "INFO" or "INFORMATION" => LogLevel.Information,
                "WARN" or "WARNING" => LogLevel.Warning,
                "ERROR" => LogLevel.Error,
                "CRITICAL" => LogLevel.Critical,
                _ => throw new ArgumentException($"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not '{level}'."),
            });
        }
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            var port = builder.Configuration["PORT"] is { Length: > 0 } p ? p : DefaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
        }
        // SIGTERM: stop accepting, let in-flight clicks finish (and release their encode locks) within SHUTDOWN_TIMEOUT.
        var shutdown = Settings.ReadInt(builder.Configuration, "SHUTDOWN_TIMEOUT", 30, 1, 3600);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(shutdown));
        builder.Services
            .AddEncoder(builder.Configuration)
            .AddDecoder(builder.Configuration)
            .AddCache(builder.Configuration);
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddHostedService<ModelWarmup>();
        builder.Services.AddSingleton(LabelStudioOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddSingleton<ImageFetcher>();
        builder.Services.AddSingleton(new LabelConfigParser());
        builder.Services.AddSingleton<SegmentationService>();
        builder.Services.AddSingleton<PrefetchQueue>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PrefetchQueue>());
        var credentials = BasicAuthCredentials.FromConfiguration(builder.Configuration);

        var app = builder.Build();
        app.UseLabelStudioBasicAuth(credentials);
        app.UseRequestMetrics();
        app.MapGet("/metrics", async (HttpContext context, Sam2Metrics metrics) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapLabelStudioEndpoints(builder.Configuration);
        return app;
    }
}
