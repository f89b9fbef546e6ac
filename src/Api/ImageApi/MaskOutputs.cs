using System.Diagnostics;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Api.ImageApi;

/// <summary>The encodings a segment request can ask for, by wire name.</summary>
[Flags]
internal enum MaskOutput
{
    None = 0,
    Png = 1,
    CocoRle = 2,
    Polygons = 4,
    LsBrush = 8,
}

/// <summary>
/// Turns one <see cref="MaskPrediction"/> into the API's <see cref="MaskResult"/>: area and bbox always, then each requested
/// encoding through its Decoder-stage function (<see cref="MaskPng"/>, <see cref="CocoRle"/>, <see cref="BrushRle"/>),
/// each timed as <c>sam2_stage_seconds{stage}</c>.
/// </summary>
internal static class MaskOutputs
{
    /// <summary>Wire names in the order documented; <see cref="Parse"/> accepts exactly these.</summary>
    public static IReadOnlyList<(string Name, MaskOutput Output)> Known { get; } =
    [
        ("png", MaskOutput.Png),
        ("coco_rle", MaskOutput.CocoRle),
        ("ls_brush", MaskOutput.LsBrush),
    ];

    public static IReadOnlyList<string> Names { get; } = Known.Select(k => k.Name).ToArray();

    /// <summary>The requested outputs; <c>coco_rle</c> when none are named.</summary>
    /// <returns>False with <paramref name="error"/> naming the offending element.</returns>
    public static bool Parse(string[]? names, out MaskOutput outputs, out string? error)
    {
        outputs = MaskOutput.None;
        error = null;
        if (names is null)
        {
            outputs = MaskOutput.CocoRle;
            return true;
        }
        for (var i = 0; i < names.Length; i++)
        {
            var match = Known.FirstOrDefault(k => string.Equals(k.Name, names[i], StringComparison.Ordinal));
            if (match.Name is null)
            {
                error = $"output[{i}]: unknown output '{names[i]}'; use {string.Join(", ", Names)}.";
                return false;
            }
            outputs |= match.Output;
        }
        if (outputs == MaskOutput.None) error = $"output: name at least one of {string.Join(", ", Names)}, or leave it out for coco_rle.";
        return error is null;
    }

    /// <summary>Area, bbox and the requested encodings of one mask.</summary>
    public static MaskFields Encode(MaskPrediction mask, MaskOutput outputs, ApiMetrics metrics)
    {
        var pixels = mask.Pixels;
        var (area, box) = MaskGeometry.Measure(pixels, mask.Width, mask.Height);
        string? png = null;
        CocoRleValue? coco = null;
        ReadOnlyMemory<byte>? brush = null;
        if (outputs.HasFlag(MaskOutput.Png))
        {
            var start = Stopwatch.GetTimestamp();
            using var bytes = MaskPng.Encode(pixels, mask.Width, mask.Height);
            png = Convert.ToBase64String(bytes.WrittenMemory.Span);
            metrics.Stage("png", start);
        }
        if (outputs.HasFlag(MaskOutput.CocoRle))
        {
            var start = Stopwatch.GetTimestamp();
            coco = new CocoRleValue { Size = [mask.Height, mask.Width], Counts = CocoRle.Encode(pixels, mask.Width, mask.Height) };
            metrics.Stage("coco_rle", start);
        }
        if (outputs.HasFlag(MaskOutput.LsBrush))
        {
            var start = Stopwatch.GetTimestamp();
            brush = BrushRle.Encode(pixels);
            metrics.Stage("rle", start);
        }
        return new MaskFields(Math.Round(mask.Score, 4), [box.X, box.Y, box.Width, box.Height], area, png, coco, null, brush);
    }
}

/// <summary>What <see cref="MaskOutputs.Encode"/> computed for one mask.</summary>
internal readonly record struct MaskFields(double Score, int[] Bbox, long Area, string? Png, CocoRleValue? CocoRle, double[][][]? Polygons,
    ReadOnlyMemory<byte>? LsBrush);
