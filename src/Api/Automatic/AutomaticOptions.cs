using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Api.Automatic;

/// <summary>Automatic masks as pre-annotations (docs/automatic-masks.md): <c>AUTO_*</c> settings.</summary>
internal sealed class AutomaticOptions
{
    /// <summary>Longest AUTO_PREDICT_BUDGET: below Label Studio's <c>ML_TIMEOUT_PREDICT</c> (100 s) with room for the fetch.</summary>
    public static readonly TimeSpan MaxPredictBudget = TimeSpan.FromSeconds(90);

    /// <value><c>AUTO_MASKS</c>: whether a task without prompts gets its automatic masks. Default off.</value>
    public bool Enabled { get; init; }

    /// <value><c>AUTO_LABEL</c>: the label of automatic regions; null for the mask control's first label.</value>
    public string? Label { get; init; }

    /// <value><c>AUTO_MAX_REGIONS</c>: at most this many regions per task, largest first. Default 100.</value>
    public int MaxRegions { get; init; } = 100;

    /// <value><c>AUTO_PREDICT_BUDGET</c>: how long a task-open <c>/predict</c> may compute before it answers with nothing and
    /// the prediction is posted later. Default 10 s.</value>
    public TimeSpan PredictBudget { get; init; } = TimeSpan.FromSeconds(10);

    /// <value><c>AUTO_QUEUE</c>: tasks waiting for automatic masks; when full the oldest is dropped. Default 1000.</value>
    public int QueueCapacity { get; init; } = 1000;

    /// <value><c>AUTO_POINTS_PER_SIDE</c> … <c>AUTO_MULTIMASK_OUTPUT</c>: SAM2AutomaticMaskGenerator's parameters.</value>
    public AutomaticMaskOptions Generator { get; init; } = new();
}
