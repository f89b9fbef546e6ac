namespace Sam2Interactive.Api;

/// <summary>
/// The host's log messages; EventIds 1000-1999 (start-up 10xx, prefetch 11xx, Label Studio protocol 12xx, image fetch
/// 13xx, automatic masks 14xx, HTTP API 15xx). Never renumber, rename or reuse an id: the method name is the EventId's name in operators' telemetry.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Models ready ({Format}; encoder on {EncoderProvider}, decoder on {DecoderProvider}); warm-up encode took {Milliseconds:F0} ms.")]
    public static partial void ModelsReady(ILogger logger, string format, string encoderProvider, string decoderProvider, double milliseconds);

    [LoggerMessage(1002, LogLevel.Critical, "Cannot start: {Message}")]
    public static partial void CannotStart(ILogger logger, string message);

    [LoggerMessage(1003, LogLevel.Information, "Model {Name} not found in {Directory}: downloading it (models pull).")]
    public static partial void PullingModel(ILogger logger, string name, string directory);

    [LoggerMessage(1101, LogLevel.Warning, "Prefetch of task {TaskId} failed: {Reason}")]
    public static partial void PrefetchFailed(ILogger logger, long? taskId, string reason);

    [LoggerMessage(1201, LogLevel.Information, "Label config gives no masks, answering with no results: {Problem}")]
    public static partial void NoBrushControl(ILogger logger, string problem);

    [LoggerMessage(1202, LogLevel.Information, "Task {TaskId}: {Regions} region(s) in {Milliseconds:F1} ms")]
    public static partial void Predicted(ILogger logger, long taskId, int regions, double milliseconds);

    [LoggerMessage(1203, LogLevel.Information, "Webhook {Action}: {Queued} image(s) queued for prefetch")]
    public static partial void WebhookQueued(ILogger logger, string action, int queued);

    [LoggerMessage(1204, LogLevel.Warning, "MASK_OUTPUT={Output}, but Image '{Image}' has no {Controls} control: those regions are left out (logged once per labeling configuration).")]
    public static partial void MaskOutputMissing(ILogger logger, string output, string image, string controls);

    [LoggerMessage(1205, LogLevel.Information, "Task {TaskId}: the mask ({Pixels} pixels) has no connected component of at least POLYGON_MIN_AREA={MinArea} pixels, so no polygon region.")]
    public static partial void NoPolygonComponent(ILogger logger, long? taskId, int pixels, int minArea);

    [LoggerMessage(1206, LogLevel.Information, "Prompt UI capabilities: point and box prompts, targets {Targets}")]
    public static partial void PromptUiCapabilities(ILogger logger, string targets);

    [LoggerMessage(1207, LogLevel.Information, "Prompt UI task {TaskId}: mask from {Points} point(s) and {Boxes} box(es) in {Milliseconds:F1} ms")]
    public static partial void PromptUiPredicted(ILogger logger, long taskId, int points, int boxes, double milliseconds);

    [LoggerMessage(1208, LogLevel.Debug, "Prompt UI task {TaskId}: released (no per-session state is kept; the embedding stays cached)")]
    public static partial void PromptUiReleased(ILogger logger, long taskId);

    [LoggerMessage(1209, LogLevel.Information, "Prompt UI task {TaskId}: prewarm queued {Queued} image(s)")]
    public static partial void PromptUiPrewarm(ILogger logger, long taskId, int queued);

    [LoggerMessage(1210, LogLevel.Warning, "Prompt UI event '{Event}' (task {TaskId}) is not supported: answered with an empty result")]
    public static partial void PromptUiUnknownEvent(ILogger logger, string @event, long taskId);

    [LoggerMessage(1211, LogLevel.Information, "Prompt UI task {TaskId}: the call has no point or box, answered with an empty result")]
    public static partial void PromptUiNoPrompt(ILogger logger, long taskId);

    [LoggerMessage(1301, LogLevel.Warning, "Image fetch attempt {Attempt} failed ({Reason}); retrying in {DelayMs} ms")]
    public static partial void FetchRetry(ILogger logger, int attempt, string? reason, int delayMs);

    [LoggerMessage(1401, LogLevel.Information,
        "Task {TaskId}: {Regions} automatic region(s) of {Masks} mask(s) from {Prompts} prompts, {DecoderRuns} decoder runs, {CropEncodes} crop encodes, {Preempted} preempted, in {Milliseconds:F0} ms")]
    public static partial void AutomaticMasks(ILogger logger, long taskId, int regions, int masks, long prompts, long decoderRuns, int cropEncodes, long preempted,
        double milliseconds);

    [LoggerMessage(1402, LogLevel.Warning, "Automatic masks for task {TaskId} failed: {Reason}")]
    public static partial void AutomaticFailed(ILogger logger, long taskId, string reason);

    [LoggerMessage(1403, LogLevel.Information, "Task {TaskId}: automatic prediction {PredictionId} ({Regions} region(s), model version {ModelVersion}) posted to Label Studio")]
    public static partial void AutomaticPosted(ILogger logger, long taskId, long predictionId, int regions, string modelVersion);

    [LoggerMessage(1404, LogLevel.Warning,
        "AUTO_MASKS is on but LABEL_STUDIO_URL or LABEL_STUDIO_API_KEY is not set: automatic masks that do not fit AUTO_PREDICT_BUDGET cannot be posted later, task {TaskId} gets none")]
    public static partial void AutomaticCannotPost(ILogger logger, long taskId);

    [LoggerMessage(1405, LogLevel.Information, "Task {TaskId} already has a prediction of model version {ModelVersion} in Label Studio: not posting another")]
    public static partial void AutomaticAlreadyPredicted(ILogger logger, long taskId, string modelVersion);

    [LoggerMessage(1501, LogLevel.Warning, "Background encode of image {ImageId} (POST /api/v1/images?wait=false) failed: {Reason}")]
    public static partial void BackgroundEncodeFailed(ILogger logger, string imageId, string reason);

    // Next free ids: 1004, 1102, 1212, 1302, 1406, 1502
}
