using System.Diagnostics;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Cache;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

/// <summary>
/// <c>/predict</c> calls of Label Studio's newer interactive prompt UI (<see cref="PromptUi.Matches"/>;
/// docs/label-studio-protocol.md §7): a thin layer over the click path. Every answer has a non-empty <c>results</c>
/// (Label Studio rejects an empty one for these calls as "Incorrect response from ML service").
/// </summary>
internal static class PromptUiEndpoint
{
    /// <summary>The prompts this backend takes: both, so the editor shows its Points/Box toggle.</summary>
    private static readonly string[] s_prompts = ["point", "box"];

    public static async Task<IResult> HandleAsync(PredictRequest body, LabelConfigResult parsed, SegmentationService segmentation, PrefetchQueue prefetch,
        ApiMetrics metrics, ModelOptions models, ILogger logger, CancellationToken cancellationToken)
    {
        var context = body.Context!;
        var task = body.Tasks![0];
        var ev = PromptUi.EventOf(context);
        switch (ev)
        {
            case PromptUiEvent.Capabilities:
                {
                    var targets = PromptUi.Targets(parsed);
                    Log.PromptUiCapabilities(logger, targets.Count == 0 ? "none" : string.Join(", ", targets.Select(t => t.Tag)));
                    var capabilities = new Capabilities { Prompts = s_prompts, Targets = targets, ModelInfo = new ModelInfo { Name = models.ModelName, Version = segmentation.ModelVersion } };
                    var response = new CapabilitiesResponse
                    {
                        Results = [new CapabilitiesPrediction { Result = [new CapabilitiesItem { Value = capabilities }], ModelVersion = segmentation.ModelVersion }],
                    };
                    return Results.Json(response, LabelStudioJsonContext.Default.CapabilitiesResponse);
                }

            case PromptUiEvent.Release:
                // No per-session state is kept (each predict resends every prompt); the embedding stays cached.
                Log.PromptUiReleased(logger, task.Id);
                return EmptyResult(segmentation);

            case PromptUiEvent.Prewarm:
                {
                    // Like a task open (no-context /predict): the prefetch queue, at opened-task priority.
                    var queued = LabelStudioEndpoints.EnqueueTaskImages(prefetch, [task], parsed.Config, EncodePriority.OpenedTask);
                    Log.PromptUiPrewarm(logger, task.Id, queued);
                    return EmptyResult(segmentation);
                }

            case PromptUiEvent.Unknown:
                Log.PromptUiUnknownEvent(logger, context.Event ?? "", task.Id);
                return EmptyResult(segmentation);

            case PromptUiEvent.Predict:
                break;

            default:
                throw new UnreachableException($"prompt UI event {ev}");
        }

        PercentPrompt? prompt;
        try
        {
            prompt = PromptUi.Parse(context);
        }
        catch (LabelStudioValidationException e)
        {
            return LabelStudioEndpoints.Error(422, $"{e.Field}: {e.Message}");
        }

        if (prompt is null)
        {
            Log.PromptUiNoPrompt(logger, task.Id);
            return EmptyResult(segmentation);
        }

        if (PromptUi.Target(parsed) is not ({ } image, { } control))
        {
            return LabelStudioEndpoints.Error(422, "label_config: " + (parsed.Images.Count == 0
                ? parsed.Problem ?? "no <Image> tag"
                : $"no control names the Image '{parsed.Images[0].ImageName}'; add <BitmaskLabels name=\"tag\" toName=\"{parsed.Images[0].ImageName}\"> with a <Label>"));
        }

        if (LabelStudioEndpoints.ImageUri(task, image) is not { } imageUri)
            return LabelStudioEndpoints.Error(422, $"task {task.Id} has no image under data.{image.ValueVariable ?? "?"} (the Image tag's value)");

        var start = Stopwatch.GetTimestamp();
        try
        {
            var result = await segmentation.SegmentPromptUiAsync(imageUri, task.Id, prompt, image, control, cancellationToken);
            metrics.Click(start);
            Log.PromptUiPredicted(logger, task.Id, prompt.Points.Count, prompt.Box is null ? 0 : 1, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            return Results.Json(new PredictResponse { Results = [result] }, LabelStudioJsonContext.Default.PredictResponse);
        }
        catch (LabelStudioValidationException e)
        {
            return LabelStudioEndpoints.Error(422, $"{e.Field}: {e.Message}");
        }
        catch (ImageFetchException e)
        {
            return LabelStudioEndpoints.Error(e.StatusCode, e.Message);
        }
        catch (ImageDecodeException e)
        {
            return LabelStudioEndpoints.Error(e.Error == ImageDecodeError.TooLarge ? 413 : 422, $"the image of task {task.Id} cannot be used: {e.Message}");
        }
    }

    // {"results":[{"result":[],"score":0,"model_version":"…"}]}: non-empty, so Label Studio accepts it.
    private static IResult EmptyResult(SegmentationService segmentation) =>
        Results.Json(new PredictResponse { Results = [new PredictionResult { Result = [], ModelVersion = segmentation.ModelVersion }] },
            LabelStudioJsonContext.Default.PredictResponse);
}
