using Sam2Interactive.Decoder;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// One object to segment: its prompt in original-image pixels, the label the prompt carried (each mask control maps it
/// into its own labels: <see cref="ImageTarget.MapLabel(LabelControl, string?)"/>), and the context's image size and
/// rotation to echo in the region (the mask must be exactly W×H).
/// </summary>
internal sealed record InteractivePrompt(
    Prompt Prompt,
    string? PromptLabel,
    ImageTarget Target,
    int OriginalWidth,
    int OriginalHeight,
    int ImageRotation);

/// <summary>
/// Turns <c>params.context</c> into prompts (docs/label-studio-protocol.md §1.2, §6):
/// <list type="bullet">
/// <item>all smart keypoints aimed at one Image form one object (LS sends the whole click history every call);</item>
/// <item>each rectangle is its own object with a box and no points; a rotated rectangle becomes the axis-aligned
/// bounding box of the rectangle rotated clockwise by <c>rotation</c> degrees around its top-left corner (x, y),
/// computed in pixels and clipped to the image;</item>
/// <item>percent → pixels: <c>px = pct / 100 · original_width</c> (height for y);</item>
/// <item>polarity: <c>value.positive</c> (newer protocol, per point) when present, else <c>is_positive</c>, else positive;</item>
/// <item>a <c>context.event</c> other than <c>predict</c>, items of other types, and items aimed at an Image without
/// a mask control (<see cref="MaskKinds"/>) give no prompts (<c>/predict</c> hands every call with an event, and the
/// prompt UI's id-less items, to <see cref="PromptUi"/> instead).</item>
/// </list>
/// </summary>
internal static class InteractivePromptBuilder
{
    /// <summary>Most clicks accepted for one object.</summary>
    public const int MaxPoints = 64;

    // Percentages this far outside 0..100 are float noise from the editor and are clamped, not rejected.
    private const double PercentTolerance = 1e-3;

    /// <summary>Prompts in the order their first item appears in <c>context.result</c>.</summary>
    /// <exception cref="LabelStudioValidationException">An item has values that cannot be used; the message says which.</exception>
    public static IReadOnlyList<InteractivePrompt> Build(InteractiveContext? context, LabelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (context?.Result is not { Count: > 0 } items)
            return [];
        if (!string.IsNullOrEmpty(context.Event) && !context.Event.Equals("predict", StringComparison.OrdinalIgnoreCase))
            return [];

        var prompts = new List<InteractivePrompt>();
        // Keypoint object per target: index into prompts, and its growing point list.
        var pointObjects = new Dictionary<ImageTarget, (int Index, List<PromptPoint> Points)>(ReferenceEqualityComparer.Instance);

        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var kind = item.Type?.ToLowerInvariant();
            var isPoint = kind is "keypointlabels" or "keypoint";
            var isRect = kind is "rectanglelabels" or "rectangle";
            if (!isPoint && !isRect)
                continue;
            var target = config.FindTarget(item.ToName);
            if (target is null)
                continue;

            var at = $"context.result[{i}]";
            var value = item.Value ?? throw new LabelStudioValidationException($"{at}.value", $"{at} has no value; send x and y in percent.");
            var (w, h) = ImageSize(item, at);
            var rotation = item.ImageRotation ?? 0;
            var x = Percent(value.X, $"{at}.value.x");
            var y = Percent(value.Y, $"{at}.value.y");

            if (isPoint)
            {
                var positive = value.Positive ?? item.IsPositive ?? true;
                var point = new PromptPoint((float)(x / 100 * w), (float)(y / 100 * h), positive);
                if (pointObjects.TryGetValue(target, out var obj))
                {
                    if (obj.Points.Count >= MaxPoints)
                    {
                        throw new LabelStudioValidationException("context.result",
                            $"more than {MaxPoints} keypoints for one object; delete some smart keypoints and click again.");
                    }

                    obj.Points.Add(point);
                    continue;
                }

                // The Prompt holds this list by reference; later keypoints of the same target are appended to it.
                var points = new List<PromptPoint> { point };
                pointObjects[target] = (prompts.Count, points);
                prompts.Add(new InteractivePrompt(new Prompt(points), FirstLabel(value.KeyPointLabels, value.Labels),
                    target, w, h, rotation));
                continue;
            }

            var width = Extent(value.Width, $"{at}.value.width");
            var height = Extent(value.Height, $"{at}.value.height");
            var degrees = value.Rotation ?? 0;
            if (!double.IsFinite(degrees))
                throw new LabelStudioValidationException($"{at}.value.rotation", $"{at}.value.rotation must be a finite number of degrees.");
            var box = RotatedBoundingBox(x / 100 * w, y / 100 * h, width / 100 * w, height / 100 * h, degrees, w, h)
                ?? throw new LabelStudioValidationException($"{at}.value",
                    $"{at} (rectangle) lies outside the {w}×{h} image; draw it on the image.");
            prompts.Add(new InteractivePrompt(new Prompt([], box), FirstLabel(value.RectangleLabels, value.Labels),
                target, w, h, rotation));
        }

        return prompts;
    }

    /// <summary>
    /// Axis-aligned bounds (pixels) of a w×h rectangle whose unrotated top-left corner is (x, y), rotated clockwise on
    /// screen (y down) by <paramref name="degrees"/> around that corner, clipped to [0, imageW]×[0, imageH].
    /// Null when nothing of it is inside the image.
    /// </summary>
    public static PromptBox? RotatedBoundingBox(double x, double y, double w, double h, double degrees, int imageW, int imageH)
    {
        double x0, y0, x1, y1;
        var normalized = degrees % 360;
        if (normalized == 0)
        {
            (x0, y0, x1, y1) = (x, y, x + w, y + h);
        }
        else
        {
            var rad = normalized * Math.PI / 180;
            var (sin, cos) = Math.SinCos(rad);
            // Corner offsets (0,0), (w,0), (w,h), (0,h) rotated: x' = dx·cos − dy·sin, y' = dx·sin + dy·cos (y down).
            ReadOnlySpan<double> cx = [0, w * cos, w * cos - h * sin, -h * sin];
            ReadOnlySpan<double> cy = [0, w * sin, w * sin + h * cos, h * cos];
            x0 = x + Min(cx);
            x1 = x + Max(cx);
            y0 = y + Min(cy);
            y1 = y + Max(cy);
        }

        x0 = Math.Clamp(x0, 0, imageW);
        x1 = Math.Clamp(x1, 0, imageW);
        y0 = Math.Clamp(y0, 0, imageH);
        y1 = Math.Clamp(y1, 0, imageH);
        if (x1 <= x0 || y1 <= y0)
            return null;
        return new PromptBox((float)x0, (float)y0, (float)x1, (float)y1);
    }

    private static double Min(ReadOnlySpan<double> v) => Math.Min(Math.Min(v[0], v[1]), Math.Min(v[2], v[3]));

    private static double Max(ReadOnlySpan<double> v) => Math.Max(Math.Max(v[0], v[1]), Math.Max(v[2], v[3]));

    private static string? FirstLabel(List<string>? specific, List<string>? generic) =>
        specific is { Count: > 0 } ? specific[0] : generic is { Count: > 0 } ? generic[0] : null;

    private static (int W, int H) ImageSize(ContextResultItem item, string at)
    {
        if (item.OriginalWidth is not > 0 || item.OriginalHeight is not > 0)
        {
            throw new LabelStudioValidationException($"{at}.original_width",
                $"{at} needs positive original_width and original_height (the image's natural size in pixels); " +
                $"got {item.OriginalWidth?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}×" +
                $"{item.OriginalHeight?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}.");
        }

        return (item.OriginalWidth.Value, item.OriginalHeight.Value);
    }

    private static double Percent(double? value, string field)
    {
        if (value is not { } v || !double.IsFinite(v))
            throw new LabelStudioValidationException(field, $"{field} must be a finite percentage between 0 and 100; got {Show(value)}.");
        if (v < -PercentTolerance || v > 100 + PercentTolerance)
            throw new LabelStudioValidationException(field, $"{field} must be between 0 and 100 (percent of the image); got {Show(value)}.");
        return Math.Clamp(v, 0, 100);
    }

    private static double Extent(double? value, string field)
    {
        if (value is not { } v || !double.IsFinite(v))
            throw new LabelStudioValidationException(field, $"{field} must be a finite percentage greater than 0; got {Show(value)}.");
        if (v <= 0)
            throw new LabelStudioValidationException(field, $"{field} must be greater than 0 (an empty or inverted rectangle); got {Show(value)}.");
        if (v > 100 + PercentTolerance)
            throw new LabelStudioValidationException(field, $"{field} must be at most 100 (percent of the image); got {Show(value)}.");
        return v;
    }

    private static string Show(double? v) => v?.ToString("R", System.Globalization.CultureInfo.InvariantCulture) ?? "nothing";
}
