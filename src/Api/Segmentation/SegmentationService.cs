using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Segmentation;

/// <summary>
/// The click path: task image → cached embedding (fetched and encoded once) → one decoder run per object → the regions
/// the labeling configuration asks for (<see cref="MaskRegions"/>).
/// </summary>
/// <remarks>The sessions are resolved on first use, so the host (and /health, answering 503 while models load) starts
/// before the model files are loaded and warmed.</remarks>
internal sealed class SegmentationService(EmbeddingStore store, ImageFetcher fetcher, ModelOptions models, MaskRegions maskRegions, IServiceProvider services)
{
    private Sam2Encoder Encoder => services.GetRequiredService<Sam2Encoder>();

    private Sam2Decoder Decoder => services.GetRequiredService<Sam2Decoder>();

    /// <summary>Model name and version reported to Label Studio.</summary>
    public string ModelVersion => models.ModelName;

    /// <summary>The embedding of a task's image, with a reference for the caller (dispose it).</summary>
    /// <exception cref="ImageFetchException">The image could not be fetched.</exception>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public Task<ImageEmbedding> GetEmbeddingAsync(string imageUri, long? taskId, EncodePriority priority, CancellationToken cancellationToken) =>
        store.GetOrCreateAsync(
            fetcher.GetIdentity(imageUri),
            async ct => await fetcher.FetchAsync(imageUri, taskId, ct).ConfigureAwait(false),
            bytes => Encoder.EncodeImage(bytes.Span),
            priority,
            cancellationToken);

    /// <summary>Completes when no fetch or encode is running any more (see <see cref="EmbeddingStore.WhenIdleAsync"/>).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken) => store.WhenIdleAsync(cancellationToken);

    /// <summary>Whether the task image's embedding is already held (prefetch skips it before any download).</summary>
    public bool IsCached(string imageUri) => store.Contains(fetcher.GetIdentity(imageUri));

    /// <summary>Segments every object of one interactive call. Regions keep the prompts' order.</summary>
    public async Task<PredictionResult> SegmentAsync(string imageUri, long? taskId, IReadOnlyList<InteractivePrompt> objects, CancellationToken cancellationToken)
    {
        // Automatic work waits (and its running decoder runs are preempted) from the click's start to its last RLE.
        using var interactive = Decoder.Priority.EnterInteractive();
        using var embedding = await GetEmbeddingAsync(imageUri, taskId, EncodePriority.Click, cancellationToken).ConfigureAwait(false);
        var regions = new List<Region>(objects.Count);
        double scoreSum = 0;
        var scored = 0;
        // Objects of one call share the frame size in practice; group anyway so each mask has its context's exact size.
        foreach (var group in objects.Select((o, i) => (o, i)).GroupBy(x => (x.o.OriginalWidth, x.o.OriginalHeight)))
        {
            var items = group.ToList();
            var masks = Decoder.PredictMany(embedding, items.Select(x => x.o.Prompt).ToList(), group.Key.OriginalWidth, group.Key.OriginalHeight);
            try
            {
                for (var k = 0; k < masks.Length; k++)
                {
                    scoreSum += masks[k].Score;
                    scored++;
                    maskRegions.Add(regions, items[k].o, masks[k], taskId);
                }
            }
            finally
            {
                foreach (var m in masks) m.Dispose();
            }
        }
        return new PredictionResult { Result = regions, Score = regions.Count == 0 ? 0 : Math.Round(scoreSum / scored, 4), ModelVersion = ModelVersion };
    }

    /// <summary>
    /// Segments the prompt UI's one object (docs/label-studio-protocol.md §7): the same embedding and decoder run as a
    /// click, with the prompt scaled from percent to the image's size after EXIF orientation (these calls carry no
    /// original size), answered as one <c>bitmask</c> region on <paramref name="control"/>.
    /// </summary>
    public async Task<PredictionResult> SegmentPromptUiAsync(string imageUri, long? taskId, PercentPrompt prompt, ImageTarget target, LabelControl control,
        CancellationToken cancellationToken)
    {
        using var interactive = Decoder.Priority.EnterInteractive();
        using var embedding = await GetEmbeddingAsync(imageUri, taskId, EncodePriority.Click, cancellationToken).ConfigureAwait(false);
        var (width, height) = (embedding.OriginalWidth, embedding.OriginalHeight);
        var masks = Decoder.PredictMany(embedding, [prompt.ToPixels(width, height)], width, height);
        try
        {
            var region = maskRegions.PromptUiRegion(target, control, masks[0]);
            return new PredictionResult { Result = [region], Score = region.Score, ModelVersion = ModelVersion };
        }
        finally
        {
            foreach (var m in masks) m.Dispose();
        }
    }
}
