using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

/// <summary>
/// Loads both sessions and runs each once (uncounted) before the server reports ready, so the first click pays no session
/// initialisation. A missing or corrupt model stops the process with a message naming the file.
/// </summary>
internal sealed class ModelWarmup(IServiceProvider services, Readiness readiness, IHostApplicationLifetime lifetime, ILogger<ModelWarmup> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(async () =>
    {
        try
        {
            await PullIfMissingAsync(stoppingToken);
            var encoder = services.GetRequiredService<Sam2Encoder>();
            var decoder = services.GetRequiredService<Sam2Decoder>();
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            using (var embedding = encoder.WarmUp())
            {
                var encodeTime = System.Diagnostics.Stopwatch.GetElapsedTime(start);
                decoder.WarmUp(embedding);
                // Connect the shared cache now (its keys need the encoder file's hash), so /health shows its real state.
                _ = services.GetRequiredService<EmbeddingStore>().DistributedState;
                readiness.SetReady();
                Log.ModelsReady(logger, encoder.Format, encoder.Provider, decoder.Provider, encodeTime.TotalMilliseconds);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            readiness.SetNotReady(e.Message);
            Log.CannotStart(logger, e.Message);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }, stoppingToken);

    /// <summary>With the embedded defaults (no explicit paths) and a known model name, downloads missing files once.</summary>
    private async Task PullIfMissingAsync(CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<ModelOptions>();
        if (options.EncoderPath is not null || options.DecoderPath is not null || Cli.ModelCatalog.Find(options.ModelName) is null) return;
        try
        {
            options.ResolvePaths();
            return;
        }
        catch (FileNotFoundException)
        {
        }
        readiness.SetNotReady($"downloading {options.ModelName} into {options.ModelDirectory}");
        Log.PullingModel(logger, options.ModelName, options.ModelDirectory);
        // A failed pull leaves ResolvePaths to throw the message that names `models pull` and ENCODER_PATH/DECODER_PATH.
        await Cli.ModelsCommand.PullAsync(options.ModelName, options.ModelDirectory, services.GetRequiredService<ServerOptions>().ModelBaseUrl,
            Console.Error, cancellationToken);
    }
}
