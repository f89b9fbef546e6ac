using System.Buffers;
using System.Diagnostics;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Decoder.Automatic;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Automatic;

/// <summary>
/// A task's automatic masks as a Label Studio prediction: the cached embedding of its image (fetched and encoded as a
/// click's would be, at the caller's priority), SAM2's automatic mask generator over the decoder, and each mask's regions
/// built by <see cref="MaskRegions"/> (the kinds clicks get, by <c>MASK_OUTPUT</c> and the label config), labelled
/// <c>AUTO_LABEL</c>, at most <c>AUTO_MAX_REGIONS</c> masks, largest first.
/// </summary>
internal sealed class AutomaticAnnotator(SegmentationService segmentation, MaskRegions maskRegions, ImageFetcher fetcher, EmbeddingStore store,
    ModelOptions models, AutomaticOptions options, ApiMetrics metrics, IServiceProvider services)
{
    private readonly ILogger _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Sam2Interactive.Api.Automatic");
    private double _secondsPerPrompt = double.NaN;

    /// <summary>The generator's parameters (AUTO_POINTS_PER_SIDE, …).</summary>
    public AutomaticMaskOptions Generator => options.Generator;

    /// <summary>The model version predictions are stored under.</summary>
    public string ModelVersion => segmentation.ModelVersion;

    /// <summary>
    /// Seconds one image is expected to take with the current parameters, from the last images' measured time per
    /// prompt; null before the first image.
    /// </summary>
    public TimeSpan? Estimate()
    {
        var perPrompt = Volatile.Read(ref _secondsPerPrompt);
        return double.IsNaN(perPrompt) ? null : TimeSpan.FromSeconds(perPrompt * options.Generator.PromptsPerImage());
    }

    /// <summary>The image the task shows on <paramref name="target"/>, or null when its data has none.</summary>
    public static string? ImageUri(LabelStudioTask task, ImageTarget target) => LabelStudioEndpoints.ImageUri(task, target);

    /// <summary>Whether the task's image embedding is held in this process (no fetch or encode needed).</summary>
    public bool IsCached(string imageUri) => segmentation.IsCached(imageUri);

    /// <summary>Generates the automatic masks of the task's image on <paramref name="target"/> and builds its prediction.</summary>
    /// <param name="priority">For the image's encoder run when it is not cached: OpenedTask for a task being looked at,
    /// Automatic otherwise. Crops always encode at Automatic.</param>
    /// <exception cref="ImageFetchException">The image could not be fetched.</exception>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    /// <exception cref="ArgumentException">The task has no image on the target.</exception>
    public async Task<PredictionResult> PredictAsync(LabelStudioTask task, ImageTarget target, EncodePriority priority, CancellationToken cancellationToken)
    {
        var imageUri = ImageUri(task, target) ?? throw new ArgumentException($"task {task.Id} has no image under data.{target.ValueVariable ?? "?"}");

        var start = Stopwatch.GetTimestamp();
        using var embedding = await segmentation.GetEmbeddingAsync(imageUri, task.Id, priority, cancellationToken).ConfigureAwait(false);
        using var crops = new CropSource(fetcher, store, services.GetRequiredService<Sam2Encoder>(), models.MaxImagePixels, imageUri, task.Id);
        var decoder = services.GetRequiredService<Sam2Decoder>();
        using var result = await new AutomaticMaskGenerator(decoder).GenerateAsync(embedding, options.Generator,
            options.Generator.CropNLayers > 0 ? crops.EncodeAsync : null, cancellationToken).ConfigureAwait(false);
        metrics.Stage("automatic", start);
        var stats = result.Stats;
        if (stats.Prompts > 0) Volatile.Write(ref _secondsPerPrompt, stats.Elapsed.TotalSeconds / stats.Prompts);

        int width = result.Width, height = result.Height;
        var pixels = ArrayPool<byte>.Shared.Rent(checked(width * height));
        try
        {
            var regions = new List<Region>();
            double scoreSum = 0;
            var masks = 0;
            foreach (var mask in result.Masks.OrderByDescending(m => m.Area).Take(options.MaxRegions))
            {
                mask.WritePixels(pixels);
                // AUTO_LABEL mapped into each mask control's labels as a click's label is (null: the control's first label).
                maskRegions.Add(regions, target, options.Label, pixels, width, height, 0, mask.PredictedIou, task.Id);
                scoreSum += mask.PredictedIou;
                masks++;
            }
            Log.AutomaticMasks(_logger, task.Id, regions.Count, result.Masks.Count, stats.Prompts, stats.DecoderRuns, stats.CropEncodes, stats.Preempted,
                Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            return new PredictionResult
            {
                Result = regions,
                Score = masks == 0 ? 0 : Math.Round(scoreSum / masks, 4),
                ModelVersion = ModelVersion,
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pixels);
        }
    }

    /// <summary>The task image decoded once at full resolution, on the first crop; crops encode at Automatic priority.</summary>
    private sealed class CropSource(ImageFetcher fetcher, EmbeddingStore store, Sam2Encoder encoder, long maxPixels, string imageUri, long taskId) : IDisposable
    {
        private readonly SemaphoreSlim _once = new(1, 1);
        private FullResolutionImage? _image;

        public async Task<ImageEmbedding> EncodeAsync(CropBox crop, CancellationToken cancellationToken)
        {
            var image = await ImageAsync(cancellationToken).ConfigureAwait(false);
            return await store.RunInEncoderSlotAsync(() => encoder.EncodeCrop(image, crop.X0, crop.Y0, crop.X1, crop.Y1),
                EncodePriority.Automatic, cancellationToken).ConfigureAwait(false);
        }

        private async Task<FullResolutionImage> ImageAsync(CancellationToken cancellationToken)
        {
            await _once.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_image is not null) return _image;
                using var bytes = await fetcher.FetchAsync(imageUri, taskId, cancellationToken).ConfigureAwait(false);
                return _image = FullResolutionImage.Decode(bytes.Bytes.Span, maxPixels);
            }
            finally
            {
                _once.Release();
            }
        }

        public void Dispose()
        {
            _image?.Dispose();
            _once.Dispose();
        }
    }
}
