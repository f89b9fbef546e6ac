using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary><c>MASK_OUTPUT</c>: which region kinds a mask becomes.</summary>
internal enum MaskOutput
{
    /// <summary>The first kind, in <see cref="MaskKinds.All"/> order, whose control targets the image (brush, then polygon,
    /// then bitmask).</summary>
    Auto,
    Brush,
    Polygon,
    /// <summary>Brush and polygon, each when its control targets the image: one region of each per object.</summary>
    Both,
}

/// <summary>A kind of region a mask can become, each carried by its own controls.</summary>
internal enum MaskKind
{
    /// <summary>BrushLabels or Brush: the mask as Label Studio RLE.</summary>
    Brush,
    /// <summary>PolygonLabels or Polygon: one polygon per connected component.</summary>
    Polygon,
    /// <summary>BitmaskLabels or Bitmask: the mask as a PNG data URL (<see cref="BitmaskValue"/>).</summary>
    Bitmask,
}

/// <summary>
/// The one place that knows the mask kinds: which controls carry each, in which order <c>auto</c> tries them, and which a
/// target gets for a <see cref="MaskOutput"/>. A new kind joins <see cref="All"/> and the switches below.
/// </summary>
internal static class MaskKinds
{
    /// <summary>Every kind, in the order <see cref="MaskOutput.Auto"/> prefers them.</summary>
    public static IReadOnlyList<MaskKind> All { get; } = [MaskKind.Brush, MaskKind.Polygon, MaskKind.Bitmask];

    /// <summary>The control tags of a kind, the labeled one first.</summary>
    public static IReadOnlyList<string> Tags(MaskKind kind) => kind switch
    {
        MaskKind.Brush => ["BrushLabels", "Brush"],
        MaskKind.Polygon => ["PolygonLabels", "Polygon"],
        MaskKind.Bitmask => ["BitmaskLabels", "Bitmask"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The first control of <paramref name="kind"/> on the target, or null.</summary>
    public static LabelControl? Control(ImageTarget target, MaskKind kind) => target.First([.. Tags(kind)]);

    /// <summary>Whether the target has a control of any kind (it can take prompts).</summary>
    public static bool HasAny(ImageTarget target) => All.Any(k => Control(target, k) is not null);

    /// <summary>Every mask control tag, for messages: "BrushLabels, Brush, PolygonLabels or Polygon".</summary>
    public static string TagList()
    {
        var tags = All.SelectMany(Tags).ToList();
        return string.Join(", ", tags.Take(tags.Count - 1)) + " or " + tags[^1];
    }

    /// <summary>
    /// The controls that get regions on <paramref name="target"/> for <paramref name="output"/>, in <see cref="All"/>
    /// order, and the kinds that <paramref name="output"/> asks for explicitly but the target lacks.
    /// </summary>
    public static (IReadOnlyList<(MaskKind Kind, LabelControl Control)> Outputs, IReadOnlyList<MaskKind> Missing) Select(ImageTarget target, MaskOutput output)
    {
        var outputs = new List<(MaskKind, LabelControl)>();
        var missing = new List<MaskKind>();
        foreach (var kind in All)
        {
            var wanted = output switch
            {
                MaskOutput.Auto => outputs.Count == 0,
                MaskOutput.Both => kind is MaskKind.Brush or MaskKind.Polygon,
                MaskOutput.Brush => kind == MaskKind.Brush,
                MaskOutput.Polygon => kind == MaskKind.Polygon,
                _ => false,
            };
            if (!wanted)
                continue;
            if (Control(target, kind) is { } control)
                outputs.Add((kind, control));
            else if (output != MaskOutput.Auto)
                missing.Add(kind);
        }

        return (outputs, missing);
    }
}

/// <summary>The output settings: <c>MASK_OUTPUT</c> and the polygon settings.</summary>
internal sealed class MaskOutputOptions
{
    /// <value><c>MASK_OUTPUT</c>. Default <see cref="MaskOutput.Auto"/>.</value>
    public MaskOutput Output { get; init; } = MaskOutput.Auto;

    /// <value><c>POLYGON_MIN_AREA</c>, <c>POLYGON_TOLERANCE</c>, <c>POLYGON_MAX_POINTS</c>.</value>
    public PolygonOptions Polygon { get; init; } = new();
}

/// <summary>
/// Turns one object's mask into the regions its image's labeling configuration asks for (<see cref="MaskKinds.Select"/>):
/// a brush region (Label Studio RLE) and/or polygon regions (one per connected component, largest first), each on its
/// control with the prompt's label mapped into that control's labels. Every door that answers Label Studio with masks
/// (interactive clicks, the newer prompt UI, automatic pre-annotations) builds its regions here. Thread-safe.
/// </summary>
internal sealed class MaskRegions(MaskOutputOptions options, ApiMetrics metrics, ILogger<MaskRegions> logger)
{
    // Per target (the parser caches one LabelConfig per configuration string): the selected controls, so a missing
    // requested kind is logged once per configuration rather than per click.
    private readonly ConditionalWeakTable<ImageTarget, IReadOnlyList<(MaskKind Kind, LabelControl Control)>> _outputs = [];

    public MaskOutputOptions Options => options;

    /// <summary>The controls that get regions on <paramref name="target"/>; logs a requested kind it lacks (once).</summary>
    public IReadOnlyList<(MaskKind Kind, LabelControl Control)> Outputs(ImageTarget target) =>
        _outputs.GetValue(target, t =>
        {
            var (outputs, missing) = MaskKinds.Select(t, options.Output);
            foreach (var kind in missing)
                Log.MaskOutputMissing(logger, options.Output.ToString().ToLowerInvariant(), t.ImageName, string.Join(" or ", MaskKinds.Tags(kind)));
            return outputs;
        });

    /// <summary>
    /// Appends the regions of one object's mask to <paramref name="regions"/>. The mask must be
    /// <see cref="InteractivePrompt.OriginalWidth"/>×<see cref="InteractivePrompt.OriginalHeight"/>; it is only read.
    /// </summary>
    /// <returns>How many regions were added.</returns>
    /// <remarks>The brush RLE is made from the prediction's rows (<see cref="BrushRle.Encode(MaskPrediction)"/>) without the
    /// W×H mask; polygons materialise it (<see cref="MaskPrediction.Pixels"/>).</remarks>
    public int Add(List<Region> regions, InteractivePrompt prompt, MaskPrediction mask, long? taskId) =>
        Add(regions, prompt.Target, prompt.PromptLabel, mask, [], prompt.OriginalWidth, prompt.OriginalHeight, prompt.ImageRotation, mask.Score, taskId);

    /// <summary>
    /// Appends the regions of a <paramref name="width"/>×<paramref name="height"/> mask (row-major, non-zero = foreground)
    /// on <paramref name="target"/>: the same kinds, controls and label mapping as a click's, with
    /// <paramref name="promptLabel"/> as the prompt's label (null: each control's first label). Automatic masks come here.
    /// </summary>
    /// <returns>How many regions were added.</returns>
    public int Add(List<Region> regions, ImageTarget target, string? promptLabel, ReadOnlySpan<byte> mask, int width, int height, int imageRotation,
        double maskScore, long? taskId) =>
        Add(regions, target, promptLabel, null, mask[..(width * height)], width, height, imageRotation, maskScore, taskId);

    /// <summary>One mask as a prediction (<paramref name="prediction"/>, produced as each output needs it) or as bytes
    /// (<paramref name="bytes"/>, when <paramref name="prediction"/> is null).</summary>
    private int Add(List<Region> regions, ImageTarget target, string? promptLabel, MaskPrediction? prediction, ReadOnlySpan<byte> bytes, int width,
        int height, int imageRotation, double maskScore, long? taskId)
    {
        var added = 0;
        var score = Math.Round(maskScore, 4);
        foreach (var (kind, control) in Outputs(target))
        {
            var label = ImageTarget.MapLabel(control, promptLabel);
            // An unlabeled control (Brush, Polygon) gives type "brush"/"polygon" and no label list (LS Result.js).
            IReadOnlyList<string>? labels = control.Tag.EndsWith("Labels", StringComparison.Ordinal) ? [label] : null;
            var type = control.Tag.ToLowerInvariant();
            switch (kind)
            {
                case MaskKind.Brush:
                    {
                        var start = Stopwatch.GetTimestamp();
                        // From a prediction: upsample + threshold + RLE fused, no W×H mask.
                        var rle = prediction is null ? BrushRle.Encode(bytes) : BrushRle.Encode(prediction);
                        metrics.Stage("rle", start);
                        regions.Add(NewRegion(target, width, height, imageRotation, control, type, new BrushValue { Rle = rle, BrushLabels = labels }, score));
                        added++;
                        break;
                    }
                case MaskKind.Polygon:
                    {
                        var start = Stopwatch.GetTimestamp();
                        ReadOnlySpan<byte> pixels = prediction is null ? bytes : prediction.Pixels;
                        var polygons = MaskPolygons.Trace(pixels, width, height, options.Polygon);
                        metrics.Stage("polygon", start);
                        if (polygons.Count == 0)
                            Log.NoPolygonComponent(logger, taskId, pixels.Length - pixels.Count((byte)0), options.Polygon.MinArea);
                        foreach (var polygon in polygons)
                        {
                            var value = new PolygonValue { Points = Percent(polygon.Points, width, height), PolygonLabels = labels };
                            regions.Add(NewRegion(target, width, height, imageRotation, control, type, value, score));
                            added++;
                        }

                        break;
                    }

                case MaskKind.Bitmask:
                    {
                        var start = Stopwatch.GetTimestamp();
                        // With alpha: the classic BitmaskLabels region colours the non-transparent pixels.
                        var png = prediction is null ? MaskPng.Encode(bytes, width, height, alpha: true) : MaskPng.Encode(prediction, alpha: true);
                        var value = new BitmaskValue { ImageDataUrl = MaskDataUrl.FromPng(png), Width = width, Height = height, BitmaskLabels = labels };
                        metrics.Stage("png", start);
                        regions.Add(NewRegion(target, width, height, imageRotation, control, type, value, score));
                        added++;
                        break;
                    }

                default:
                    throw new UnreachableException($"mask kind {kind}");
            }
        }

        return added;
    }

    /// <summary>
    /// The prompt UI's answer for one mask (docs/label-studio-protocol.md §7): a single region of type <c>bitmask</c> on
    /// <paramref name="control"/> with an 8-bit gray 0/255 PNG of the mask's full size, whatever <c>MASK_OUTPUT</c> says
    /// (the browser reads only <c>result[0].value.imageDataURL</c> and derives boxes and polygons itself).
    /// </summary>
    public Region PromptUiRegion(ImageTarget target, LabelControl control, MaskPrediction mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var start = Stopwatch.GetTimestamp();
        var value = new BitmaskValue { ImageDataUrl = MaskDataUrl.FromPng(MaskPng.Encode(mask)), Width = mask.Width, Height = mask.Height };
        metrics.Stage("png", start);
        return NewRegion(target, mask.Width, mask.Height, imageRotation: 0, control, "bitmask", value, Math.Round(mask.Score, 4), origin: "manual");
    }

    /// <summary>Pixel-edge coordinates → Label Studio's percent of the image size (0–100), 4 decimals (under 0.001 px
    /// on a 10 000-px side).</summary>
    internal static double[][] Percent(PolygonPoint[] points, int width, int height)
    {
        var result = new double[points.Length][];
        for (var i = 0; i < points.Length; i++)
            result[i] = [Math.Round(points[i].X * 100 / width, 4), Math.Round(points[i].Y * 100 / height, 4)];
        return result;
    }

    /// <param name="origin">Written only when set: <c>manual</c> for the prompt UI's region.</param>
    private static Region NewRegion(ImageTarget target, int width, int height, int imageRotation, LabelControl control, string type, RegionValue value,
        double score, string? origin = null)
    {
        return new Region
        {
            Id = RegionId(),
            FromName = control.Name,
            ToName = target.ImageName,
            Type = type,
            Origin = origin,
            OriginalWidth = width,
            OriginalHeight = height,
            ImageRotation = imageRotation,
            Value = value,
            Score = score,
            Readonly = false,
        };
    }

    // Unique within a response (the frontend cannot draw two regions with one id) and across calls.
    private static string RegionId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 5));
}
