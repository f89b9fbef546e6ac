using Sam2Interactive.Decoder;

namespace Sam2Interactive.Api.ImageApi;

/// <summary>
/// Checks a segment request and turns it into decoder prompts. Every message starts with the JSON field at fault
/// (<c>points[2]</c>, <c>labels</c>, <c>boxes[0]</c>) and says what to send instead.
/// </summary>
internal static class SegmentPrompts
{
    /// <summary>What can be checked without the image: counts, shapes, finite numbers, labels.</summary>
    /// <returns>The error, or null when the request is well formed.</returns>
    public static string? CheckShape(SegmentRequest body, int maxPrompts)
    {
        var points = body.Points ?? [];
        var boxes = body.Boxes ?? [];
        if (points.Length == 0 && boxes.Length == 0)
            return "points: give at least one point ([[x, y], ...]) or one box (boxes: [[x0, y0, x1, y1], ...]).";
        if (points.Length > maxPrompts)
            return $"points: {points.Length} points are more than MAX_PROMPTS={maxPrompts}; send fewer.";
        if (boxes.Length > maxPrompts)
            return $"boxes: {boxes.Length} boxes are more than MAX_PROMPTS={maxPrompts}; send fewer, or several requests.";
        for (var i = 0; i < points.Length; i++)
        {
            if (points[i] is not { Length: 2 } p || !double.IsFinite(p[0]) || !double.IsFinite(p[1]))
                return $"points[{i}]: must be [x, y], two finite numbers in pixels.";
        }
        if (body.Labels is { } labels)
        {
            if (labels.Length != points.Length)
                return $"labels: {labels.Length} labels for {points.Length} points; give one per point (1 positive, 0 negative) or leave labels out.";
            for (var i = 0; i < labels.Length; i++)
            {
                if (labels[i] is not (0 or 1)) return $"labels[{i}]: must be 1 (positive) or 0 (negative), not {labels[i]}.";
            }
        }
        for (var i = 0; i < boxes.Length; i++)
        {
            if (boxes[i] is not { Length: 4 } b || !b.All(double.IsFinite))
                return $"boxes[{i}]: must be [x0, y0, x1, y1], four finite numbers in pixels.";
            if (b[0] > b[2] || b[1] > b[3])
                return $"boxes[{i}]: x0 must be ≤ x1 and y0 ≤ y1 (top-left, then bottom-right corner).";
        }
        if (boxes.Length > 1 && points.Length > 0)
            return "points: points refine one box; with several boxes send no points (or one request per box).";
        return null;
    }

    /// <summary>Prompts outside the image (0 ≤ x ≤ width, 0 ≤ y ≤ height, after EXIF orientation).</summary>
    public static string? CheckBounds(SegmentRequest body, int width, int height)
    {
        var points = body.Points ?? [];
        for (var i = 0; i < points.Length; i++)
        {
            if (!Inside(points[i][0], points[i][1], width, height))
                return $"points[{i}]: [{ImageApiEndpoints.Invariant(points[i][0])}, {ImageApiEndpoints.Invariant(points[i][1])}] is outside the {width}×{height} image (0 ≤ x ≤ {width}, 0 ≤ y ≤ {height}).";
        }
        var boxes = body.Boxes ?? [];
        for (var i = 0; i < boxes.Length; i++)
        {
            var b = boxes[i];
            if (!Inside(b[0], b[1], width, height) || !Inside(b[2], b[3], width, height))
                return $"boxes[{i}]: [{string.Join(", ", b.Select(ImageApiEndpoints.Invariant))}] is outside the {width}×{height} image (0 ≤ x ≤ {width}, 0 ≤ y ≤ {height}).";
        }
        return null;
    }

    /// <summary>One prompt per box (the points refine a single box), or one prompt for the points.</summary>
    public static IReadOnlyList<Prompt> Build(SegmentRequest body)
    {
        var points = (body.Points ?? []).Select((p, i) => new PromptPoint((float)p[0], (float)p[1], body.Labels is not { } l || l[i] == 1)).ToArray();
        var boxes = body.Boxes ?? [];
        if (boxes.Length == 0) return [new Prompt(points)];
        return boxes.Select(b => new Prompt(points, new PromptBox((float)b[0], (float)b[1], (float)b[2], (float)b[3]))).ToArray();
    }

    private static bool Inside(double x, double y, int width, int height) => x >= 0 && y >= 0 && x <= width && y <= height;
}
