using System.Diagnostics;
using System.Text.Json;
using Sam2Interactive.Api.Automatic;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

/// <summary>The Label Studio ML-backend protocol (docs/label-studio-protocol.md §1–2).</summary>
internal static class LabelStudioEndpoints
{
    public static IEndpointRouteBuilder MapLabelStudioEndpoints(this IEndpointRouteBuilder app, ServerOptions server)
    {
        app.MapGet("/", Health);
        app.MapGet("/health", Health);
        app.MapPost("/setup", Setup);
        app.MapGet("/versions", (SegmentationService s) => Json(new VersionsResponse { Versions = [s.ModelVersion] }, LabelStudioJsonContext.Default.VersionsResponse));
        app.MapPost("/predict", Predict);
        app.MapPost("/webhook", Webhook).AddEndpointFilter(new WebhookSecretFilter(server.WebhookSecret));
        app.MapPost("/prefetch", Prefetch);
        app.MapPost("/annotate", Annotate);
        return app;
    }

    private static IResult Health(Readiness readiness, ModelOptions options, EmbeddingStore store, IServiceProvider services)
    {
        var ready = readiness.IsReady;
        // The sessions exist once ready (the warm-up created them); before that, only the configured device is known.
        var encoder = ready ? services.GetRequiredService<Sam2Encoder>().Provider.ToLowerInvariant() : null;
        var decoder = ready ? services.GetRequiredService<Sam2Decoder>().Provider.ToLowerInvariant() : null;
        var body = new HealthResponse
        {
            Status = ready ? "UP" : "DOWN",
            ModelClass = "Sam2Interactive",
            Model = options.ModelName,
            Device = encoder ?? options.Device,
            Providers = ready ? new Dictionary<string, string> { ["encoder"] = encoder!, ["decoder"] = decoder! } : null,
            Cache = new Dictionary<string, long> { ["memory_entries"] = store.Count, ["memory_bytes"] = store.Bytes, ["encodes_queued"] = store.EncodesQueued },
            CacheState = ready ? store.DistributedState.ToString().ToLowerInvariant() : null,
            Reason = readiness.Reason,
        };
        return Json(body, LabelStudioJsonContext.Default.HealthResponse, ready ? 200 : 503);
    }

    private static async Task<IResult> Setup(HttpRequest request, SegmentationService segmentation)
    {
        // Label Studio only reads model_version; the body (schema, hostname, extra_params as object or string) is optional.
        if (request.ContentLength is > 0)
        {
            try
            {
                await JsonSerializer.DeserializeAsync(request.Body, LabelStudioJsonContext.Default.SetupRequest, request.HttpContext.RequestAborted);
            }
            catch (JsonException e)
            {
                return Error(400, "the /setup body is not valid JSON: " + e.Message);
            }
        }
        return Json(new SetupResponse { ModelVersion = segmentation.ModelVersion }, LabelStudioJsonContext.Default.SetupResponse);
    }

    private static async Task<IResult> Predict(HttpRequest request, SegmentationService segmentation, PrefetchQueue prefetch, LabelConfigParser parser,
        ApiMetrics metrics, ModelOptions models, AutomaticOptions automaticOptions, AutomaticPredictions automatic, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Sam2Interactive.Api.Predict");
        PredictRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, LabelStudioJsonContext.Default.PredictRequest, cancellationToken);
        }
        catch (JsonException e)
        {
            return Error(400, "the /predict body is not valid JSON for Label Studio's predict request: " + e.Message);
        }
        if (body?.Tasks is not { Count: > 0 } tasks) return Error(400, "the /predict body has no 'tasks' (a list with at least one task)");
        var parsed = parser.Parse(body.LabelConfig);
        var context = body.Params?.Context;
        if (PromptUi.Matches(context))
            return await PromptUiEndpoint.HandleAsync(body, parsed, segmentation, prefetch, metrics, models, logger, cancellationToken);

        if (context?.Result is not { Count: > 0 })
        {
            // Task opened or "Retrieve predictions": warm the embedding for the first click; with AUTO_MASKS, the automatic
            // masks: answered now when they fit AUTO_PREDICT_BUDGET, else posted to Label Studio later.
            EnqueueTaskImages(prefetch, tasks, parsed.Config, EncodePriority.OpenedTask);
            if (automaticOptions.Enabled && parsed.Config is { } autoConfig)
            {
                var results = new List<PredictionResult>(1);
                long? project = long.TryParse(body.ProjectId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : null;
                foreach (var task in tasks)
                {
                    var prediction = await automatic.OnTaskOpenedAsync(task, autoConfig.Targets[0], project, answerable: tasks.Count == 1, cancellationToken);
                    if (prediction is not null) results.Add(prediction);
                }
                if (results.Count == tasks.Count) return Json(new PredictResponse { Results = results }, LabelStudioJsonContext.Default.PredictResponse);
            }
            return Json(PredictResponse.Empty, LabelStudioJsonContext.Default.PredictResponse);
        }
        if (parsed.Config is not { } config)
        {
            Log.NoBrushControl(logger, parsed.Problem ?? "no label config");
            return Json(PredictResponse.Empty, LabelStudioJsonContext.Default.PredictResponse);
        }

        IReadOnlyList<InteractivePrompt> objects;
        try
        {
            objects = InteractivePromptBuilder.Build(context, config);
        }
        catch (LabelStudioValidationException e)
        {
            return Error(422, $"{e.Field}: {e.Message}");
        }
        if (objects.Count == 0) return Json(PredictResponse.Empty, LabelStudioJsonContext.Default.PredictResponse);
        // The mask is original_width × original_height bytes: bound it like an image, before anything is allocated.
        if (objects.FirstOrDefault(o => (long)o.OriginalWidth * o.OriginalHeight > models.MaxImagePixels) is { } huge)
            return Error(422, $"context.result: original_width × original_height = {huge.OriginalWidth}×{huge.OriginalHeight} is above MAX_IMAGE_PIXELS={models.MaxImagePixels}");

        var taskData = tasks[0];
        var imageUri = ImageUri(taskData, objects[0].Target);
        if (imageUri is null)
            return Error(422, $"task {taskData.Id} has no image under data.{objects[0].Target.ValueVariable ?? "?"} (the Image tag's value)");

        var start = Stopwatch.GetTimestamp();
        try
        {
            var result = await segmentation.SegmentAsync(imageUri, taskData.Id, objects, cancellationToken);
            metrics.Click(start);
            Log.Predicted(logger, taskData.Id, result.Result.Count, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            return Json(new PredictResponse { Results = [result] }, LabelStudioJsonContext.Default.PredictResponse);
        }
        catch (ImageFetchException e)
        {
            return Error(e.StatusCode, e.Message);
        }
        catch (ImageDecodeException e)
        {
            return Error(e.Error == ImageDecodeError.TooLarge ? 413 : 422, $"the image of task {taskData.Id} cannot be used: {e.Message}");
        }
    }

    private static async Task<IResult> Webhook(HttpRequest request, PrefetchQueue prefetch, LabelConfigParser parser, ILoggerFactory loggers)
    {
        WebhookPayload? payload;
        try
        {
            payload = await JsonSerializer.DeserializeAsync(request.Body, LabelStudioJsonContext.Default.WebhookPayload, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return Error(400, "the webhook body is not valid JSON: " + e.Message);
        }
        // Label Studio waits 1 s: only queue work here.
        if (payload?.Action == "TASKS_CREATED")
        {
            var tasks = payload.Tasks ?? (payload.Task is { } t ? [t] : []);
            var queued = EnqueueTaskImages(prefetch, tasks, parser.Parse(payload.Project?.LabelConfig).Config, EncodePriority.Prefetch);
            Log.WebhookQueued(loggers.CreateLogger("Sam2Interactive.Api.Webhook"), payload.Action, queued);
            return Json(new WebhookResponse { Status = "ok" }, LabelStudioJsonContext.Default.WebhookResponse);
        }
        return Json(new WebhookResponse { Status = "Unknown event" }, LabelStudioJsonContext.Default.WebhookResponse);
    }

    /// <summary>
    /// <c>POST /prefetch</c> for scripts: <c>{"tasks":[...]}</c> (Label Studio task objects, with an optional
    /// <c>label_config</c>) or <c>{"uris":["/data/upload/...", ...]}</c>. Queues at import priority; answers at once.
    /// </summary>
    private static async Task<IResult> Prefetch(HttpRequest request, PrefetchQueue prefetch, LabelConfigParser parser)
    {
        PrefetchRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, LabelStudioJsonContext.Default.PrefetchRequest, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return Error(400, "the /prefetch body must be {\"tasks\": [...]} or {\"uris\": [...]}: " + e.Message);
        }
        if (body is null || (body.Tasks is not { Count: > 0 } && body.Uris is not { Count: > 0 }))
            return Error(400, "the /prefetch body must be {\"tasks\": [...]} or {\"uris\": [...]} with at least one entry");
        var queued = EnqueueTaskImages(prefetch, body.Tasks ?? [], parser.Parse(body.LabelConfig).Config, EncodePriority.Prefetch);
        foreach (var uri in body.Uris ?? [])
        {
            if (string.IsNullOrWhiteSpace(uri)) continue;
            prefetch.Enqueue(uri, null, EncodePriority.Prefetch);
            queued++;
        }
        return Results.Json(new PrefetchResponse { Queued = queued }, LabelStudioJsonContext.Default.PrefetchResponse, statusCode: 202);
    }

    /// <summary>
    /// <c>POST /annotate</c> for <c>sam2i annotate</c>: generates one task's automatic masks now (automatic priority: clicks
    /// go first) and posts them to Label Studio as a prediction, unless it already has one of this model version.
    /// </summary>
    private static async Task<IResult> Annotate(HttpRequest request, LabelConfigParser parser, AutomaticPredictions automatic, SegmentationService segmentation,
        CancellationToken cancellationToken)
    {
        AnnotateRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, LabelStudioJsonContext.Default.AnnotateRequest, cancellationToken);
        }
        catch (JsonException e)
        {
            return Error(400, "the /annotate body must be {\"task\": {...}, \"project\": id, \"label_config\": \"<View>...\"}: " + e.Message);
        }
        if (body?.Task is not { } task) return Error(400, "the /annotate body has no 'task'");
        if (parser.Parse(body.LabelConfig).Config is not { } config)
            return Error(422, "label_config: " + (parser.Parse(body.LabelConfig).Problem ?? "missing"));
        if (ImageUri(task, config.Targets[0]) is null)
            return Error(422, $"task {task.Id} has no image under data.{config.Targets[0].ValueVariable ?? "?"} (the Image tag's value)");
        try
        {
            var (outcome, regions) = await automatic.AnnotateAsync(task, config.Targets[0], body.Project, cancellationToken);
            return Json(new AnnotateResponse { Task = task.Id, Outcome = outcome.ToString().ToLowerInvariant(), Regions = regions, ModelVersion = segmentation.ModelVersion },
                LabelStudioJsonContext.Default.AnnotateResponse);
        }
        catch (ImageFetchException e)
        {
            return Error(e.StatusCode, e.Message);
        }
        catch (ImageDecodeException e)
        {
            return Error(e.Error == ImageDecodeError.TooLarge ? 413 : 422, $"the image of task {task.Id} cannot be used: {e.Message}");
        }
        catch (LabelStudioApiException e)
        {
            return Error(502, e.Message);
        }
    }

    /// <summary>Queues every image of the tasks: the Image tags' values when the config is known, else every string value
    /// that looks like an image location. Returns how many were queued.</summary>
    internal static int EnqueueTaskImages(PrefetchQueue prefetch, IEnumerable<LabelStudioTask> tasks, LabelConfig? config, EncodePriority priority)
    {
        var queued = 0;
        foreach (var task in tasks)
        {
            foreach (var uri in config is null ? AnyImageUri(task) : config.Targets.Select(target => ImageUri(task, target)))
            {
                if (uri is null) continue;
                prefetch.Enqueue(uri, task.Id, priority);
                queued++;
            }
        }
        return queued;
    }

    /// <summary>The task's image on <paramref name="target"/> (its Image tag's value variable), or null.</summary>
    internal static string? ImageUri(LabelStudioTask task, ImageTarget target)
    {
        if (task.Data is null) return null;
        var key = target.ValueVariable;
        if (key is not null && task.Data.TryGetValue(key, out var value) && value.ValueKind == JsonValueKind.String) return value.GetString();
        return key is null ? AnyImageUri(task).FirstOrDefault() : null;
    }

    // Without a config (webhook payloads may lack it): every string value that looks like an image location.
    private static IEnumerable<string?> AnyImageUri(LabelStudioTask task) =>
        task.Data?.Values.Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString())
            .Where(s => s is not null && (s.StartsWith('/') || s.Contains("://", StringComparison.Ordinal))) ?? [];

    private static IResult Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, int status = 200) =>
        Results.Json(value, type, statusCode: status);

    internal static IResult Error(int status, string detail) =>
        Results.Json(new ErrorResponse { Status = status, Detail = detail }, LabelStudioJsonContext.Default.ErrorResponse, statusCode: status);
}
