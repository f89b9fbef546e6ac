using System.Globalization;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>What a prompt-UI call asks for (<c>params.context.event</c>; absent means <see cref="Predict"/>).</summary>
internal enum PromptUiEvent
{
    Predict,
    Capabilities,
    Release,
    Prewarm,
    Unknown,
}

/// <summary>
/// One prompt-UI object in percent (0–100) of the image: every click so far and/or one box. Turned into decoder
/// pixels only once the image's size (after EXIF orientation) is known, since these calls carry no original size.
/// </summary>
internal sealed record PercentPrompt(IReadOnlyList<(double X, double Y, bool Positive)> Points, (double X, double Y, double Width, double Height)? Box)
{
    /// <summary>The decoder prompt for a <paramref name="width"/>×<paramref name="height"/> image: <c>px = pct / 100 · size</c>,
    /// computed as the smart tools' path computes it (<see cref="InteractivePromptBuilder"/>), so one prompt gives one mask.</summary>
    /// <exception cref="LabelStudioValidationException">The box has no area inside the image at this size.</exception>
    public Prompt ToPixels(int width, int height)
    {
        var points = Points.Select(p => new PromptPoint((float)(p.X / 100 * width), (float)(p.Y / 100 * height), p.Positive)).ToList();
        PromptBox? box = null;
        if (Box is { } b)
        {
            box = InteractivePromptBuilder.RotatedBoundingBox(b.X / 100 * width, b.Y / 100 * height, b.Width / 100 * width, b.Height / 100 * height, 0, width, height)
                ?? throw new LabelStudioValidationException("context.result", $"the box lies outside the {width}×{height} image; draw it on the image.");
        }

        return new Prompt(points, box);
    }
}

/// <summary>
/// Label Studio's newer interactive prompt UI (flag <c>fflag_feat_bros_951_ml_backend_short</c>;
/// docs/label-studio-protocol.md §7, read from LS <c>web/libs/editor/src/ml-interactive/{api,resolve,types}.ts</c>):
/// which calls belong to it, its events, its point/box prompts and the <c>capabilities</c> it is told.
/// </summary>
internal static class PromptUi
{
    /// <summary>Control tags the editor can drive from a mask, and the shape it builds for each (LS <c>resolve.ts</c>
    /// <c>CONTROL_TAG_MAP</c>, <c>types.ts</c> <c>OutputKind</c>), in the order a region's <c>from_name</c> prefers them.</summary>
    public static IReadOnlyList<(string Tag, string Output)> TargetTags { get; } =
        [("BitmaskLabels", "mask"), ("RectangleLabels", "bbox"), ("PolygonLabels", "polygon"), ("VectorLabels", "polygon")];

    /// <summary>
    /// Whether a call is the prompt UI's: its context has an <c>event</c>, or an item carries <c>value.positive</c>
    /// without <c>is_positive</c>, <c>id</c> and <c>from_name</c>, or no item has an <c>id</c>, a <c>from_name</c> or
    /// an <c>original_width</c> (the UI's box). The smart tools always send all three, so their calls stay classic.
    /// </summary>
    public static bool Matches(InteractiveContext? context)
    {
        if (context is null) return false;
        if (!string.IsNullOrEmpty(context.Event)) return true;
        if (context.Result is not { Count: > 0 } items) return false;
        return items.Any(i => i.Value?.Positive is not null && i.IsPositive is null && i.Id is null && i.FromName is null)
            || items.All(i => i.Id is null && i.FromName is null && i.OriginalWidth is null);
    }

    /// <summary>The event of a prompt-UI call; matched case-insensitively.</summary>
    public static PromptUiEvent EventOf(InteractiveContext context) => context.Event?.ToLowerInvariant() switch
    {
        null or "" or "predict" => PromptUiEvent.Predict,
        "capabilities" => PromptUiEvent.Capabilities,
        "release" => PromptUiEvent.Release,
        "prewarm" => PromptUiEvent.Prewarm,
        _ => PromptUiEvent.Unknown,
    };

    /// <summary>
    /// The object of a predict call: every keypoint item (the UI resends all clicks so far), and the last rectangle item
    /// as the box (the UI sends one, never mixed with points; a mix is used as points plus box). Null when no item is a
    /// point or a box.
    /// </summary>
    /// <exception cref="LabelStudioValidationException">A value is missing or outside 0–100; the message says which.</exception>
    public static PercentPrompt? Parse(InteractiveContext context)
    {
        var points = new List<(double, double, bool)>();
        (double, double, double, double)? box = null;
        var items = context.Result ?? [];
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var kind = item.Type?.ToLowerInvariant();
            var isPoint = kind is "keypointlabels" or "keypoint";
            if (!isPoint && kind is not ("rectanglelabels" or "rectangle")) continue;
            var at = $"context.result[{i}]";
            var value = item.Value ?? throw new LabelStudioValidationException($"{at}.value", $"{at} has no value; send x and y in percent.");
            var x = Percent(value.X, $"{at}.value.x");
            var y = Percent(value.Y, $"{at}.value.y");
            if (isPoint)
            {
                if (points.Count == InteractivePromptBuilder.MaxPoints)
                {
                    throw new LabelStudioValidationException("context.result",
                        $"more than {InteractivePromptBuilder.MaxPoints} points for one object; undo some clicks or reject the object and start again.");
                }

                points.Add((x, y, value.Positive ?? item.IsPositive ?? true));
                continue;
            }

            var width = Extent(value.Width, $"{at}.value.width");
            var height = Extent(value.Height, $"{at}.value.height");
            box = (x, y, width, height);
        }

        return points.Count == 0 && box is null ? null : new PercentPrompt(points, box);
    }

    /// <summary>
    /// The Image the UI segments and the control a region names: the first Image with a BitmaskLabels control, else with
    /// another <see cref="TargetTags"/> control, else the first Image; the control is that Image's first such control in
    /// <see cref="TargetTags"/> order, else its first control. Null when the configuration has no Image.
    /// </summary>
    public static (ImageTarget Image, LabelControl? Control)? Target(LabelConfigResult config)
    {
        foreach (var (tag, _) in TargetTags)
        {
            foreach (var image in config.Images)
            {
                if (image.First(tag) is { } control) return (image, control);
            }
        }

        return config.Images.Count == 0 ? null : (config.Images[0], config.Images[0].Controls.Count > 0 ? config.Images[0].Controls[0] : null);
    }

    /// <summary>The <c>capabilities</c> targets: one per <see cref="TargetTags"/> tag the configuration has.</summary>
    public static IReadOnlyList<CapabilityTarget> Targets(LabelConfigResult config) =>
        [.. TargetTags.Where(t => config.Images.Any(i => i.First(t.Tag) is not null)).Select(t => new CapabilityTarget { Tag = t.Tag, Output = t.Output })];

    private static double Percent(double? value, string field)
    {
        if (value is not { } v || !double.IsFinite(v) || v < -1e-3 || v > 100 + 1e-3)
            throw new LabelStudioValidationException(field, $"{field} must be a percentage of the image between 0 and 100; got {Show(value)}.");
        return Math.Clamp(v, 0, 100);
    }

    private static double Extent(double? value, string field)
    {
        if (value is not { } v || !double.IsFinite(v) || v <= 0 || v > 100 + 1e-3)
            throw new LabelStudioValidationException(field, $"{field} must be a percentage of the image above 0 and at most 100; got {Show(value)}.");
        return v;
    }

    private static string Show(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "nothing";
}
