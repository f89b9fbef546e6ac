using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

/// <summary>
/// Loads both sessions and runs each once before the server reports ready, so the first click pays no session
/// initialisation. A missing or corrupt model stops the process with a message naming the file.
/// </summary>
internal sealed partial class ModelWarmup(IServiceProvider services, Readiness readiness, IHostApplicationLifetime lifetime, ILogger<ModelWarmup> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(async () =>
    {
        try
        {
            await PullIfMissingAsync(stoppingToken);
            var encoder = services.GetRequiredService<Sam2Encoder>();
            var decoder = services.GetRequiredService<Sam2Decoder>();
            var input = new float[3 * Sam2Preprocessor.InputSize * Sam2Preprocessor.InputSize];
            using var embedding = encoder.Run(input, 64, 64, out var encodeTime);
            using var mask = decoder.Predict(embedding, new Prompt([new PromptPoint(32, 32, true)]), 64, 64);
            // Connect the shared cache now (its keys need the encoder file's hash), so /health shows its real state.
            _ = services.GetRequiredService<Cache.IDistributedEmbeddingTier>().State;
            readiness.SetReady();
            LogReady(logger, encoder.Format, encodeTime.TotalMilliseconds);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            readiness.SetNotReady(e.Message);
            LogModelError(logger, e.Message);
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
        LogPulling(logger, options.ModelName, options.ModelDirectory);
        // A failed pull leaves ResolvePaths to throw the message that names `models pull` and ENCODER_PATH/DECODER_PATH.
        await Cli.ModelsCommand.PullAsync(options.ModelName, options.ModelDirectory, Cli.ModelCatalog.ResolveBaseUrl(null), Console.Error, cancellationToken);
    }

    [LoggerMessage(1003, LogLevel.Information, "Model {Name} not found in {Directory}: downloading it (models pull).")]
    private static partial void LogPulling(ILogger logger, string name, string directory);

    [LoggerMessage(1001, LogLevel.Information, "Models ready ({Format}); warm-up encode took {Milliseconds:F0} ms.")]
    private static partial void LogReady(ILogger logger, string format, double milliseconds);

    [LoggerMessage(1002, LogLevel.Critical, "Cannot start: {Message}")]
    private static partial void LogModelError(ILogger logger, string message);
}
