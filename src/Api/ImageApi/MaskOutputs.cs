using System.Diagnostics;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Api.ImageApi;

/// <summary>The encodings a segment request can ask for, by wire name.</summary>
[Flags]
internal enum MaskEncodings
{
    None = 0,
    Png = 1,
    CocoRle = 2,
    Polygons = 4,
    LsBrush = 8,
}

/// <summary>
/// Turns one <see cref="MaskPrediction"/> into the API's <see cref="MaskResult"/>: area and bbox always, then each requested
/// encoding through its Decoder-stage function (<see cref="MaskPng"/>, <see cref="CocoRle"/>, <see cref="MaskPolygons"/>
/// with the POLYGON_* settings, <see cref="BrushRle"/>), each timed as <c>sam2_stage_seconds{stage}</c> (png, coco_rle,
/// polygon and rle, the last two as the Label Studio regions name them).
/// </summary>
internal static class MaskOutputs
{
    /// <summary>Wire names in the order documented; <see cref="Parse"/> accepts exactly these.</summary>
    public static IReadOnlyList<(string Name, MaskEncodings Output)> Known { get; } =
    [
        ("png", MaskEncodings.Png),
        ("coco_rle", MaskEncodings.CocoRle),
        ("polygons", MaskEncodings.Polygons),
        ("ls_brush", MaskEncodings.LsBrush),
    ];

    public static IReadOnlyList<string> Names { get; } = Known.Select(k => k.Name).ToArray();

    /// <summary>The requested outputs; <c>coco_rle</c> when none are named.</summary>
    /// <returns>False with <paramref name="error"/> naming the offending element.</returns>
    public static bool Parse(string[]? names, out MaskEncodings outputs, out string? error)
    {
        outputs = MaskEncodings.None;
        error = null;
        if (names is null)
        {
            outputs = MaskEncodings.CocoRle;
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
        if (outputs == MaskEncodings.None) error = $"output: name at least one of {string.Join(", ", Names)}, or leave it out for coco_rle.";
        return error is null;
    }

    /// <summary>Area, bbox and the requested encodings of one mask.</summary>
    public static MaskFields Encode(MaskPrediction mask, MaskEncodings outputs, PolygonOptions polygonOptions, ApiMetrics metrics)
    {
        var pixels = mask.Pixels;
        var (area, box) = MaskGeometry.Measure(pixels, mask.Width, mask.Height);
        string? png = null;
        CocoRleValue? coco = null;
        ReadOnlyMemory<byte>? brush = null;
        double[][][]? polygons = null;
        if (outputs.HasFlag(MaskEncodings.Png))
        {
            var start = Stopwatch.GetTimestamp();
            using var bytes = MaskPng.Encode(pixels, mask.Width, mask.Height);
            png = Convert.ToBase64String(bytes.WrittenMemory.Span);
            metrics.Stage("png", start);
        }
        if (outputs.HasFlag(MaskEncodings.CocoRle))
        {
            var start = Stopwatch.GetTimestamp();
            coco = new CocoRleValue { Size = [mask.Height, mask.Width], Counts = CocoRle.Encode(pixels, mask.Width, mask.Height) };
            metrics.Stage("coco_rle", start);
        }
        if (outputs.HasFlag(MaskEncodings.Polygons))
        {
            var start = Stopwatch.GetTimestamp();
            polygons = MaskPolygons.Trace(pixels, mask.Width, mask.Height, polygonOptions)
                .Select(p => p.Points.Select(v => new[] { v.X, v.Y }).ToArray()).ToArray();
            metrics.Stage("polygon", start);
        }
        if (outputs.HasFlag(MaskEncodings.LsBrush))
        {
            var start = Stopwatch.GetTimestamp();
            brush = BrushRle.Encode(pixels);
            metrics.Stage("rle", start);
        }
        return new MaskFields(Math.Round(mask.Score, 4), [box.X, box.Y, box.Width, box.Height], area, png, coco, polygons, brush);
    }
}

/// <summary>What <see cref="MaskOutputs.Encode"/> computed for one mask.</summary>
internal readonly record struct MaskFields(double Score, int[] Bbox, long Area, string? Png, CocoRleValue? CocoRle, double[][][]? Polygons,
    ReadOnlyMemory<byte>? LsBrush);
