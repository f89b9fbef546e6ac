using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Decoder;
using Sam2Interactive.Decoder.Automatic;
using Sam2Interactive.Encoder;
using SkiaSharp;

namespace Sam2Interactive.Api.Cli;

/// <summary>
/// <c>segment --auto</c>: SAM2's automatic mask generator on one image. Writes a colour-coded PNG (one colour per mask,
/// larger masks drawn first) and a JSON list with SAM2's record per mask, keys in SAM2's order, the segmentation as the
/// uncompressed COCO RLE SAM2 gives with <c>output_mode="uncompressed_rle"</c>.
/// </summary>
internal static class AutomaticSegment
{
    /// <summary>Command-line options named as SAM2's parameters, each overriding its <c>AUTO_*</c> setting.</summary>
    public static IReadOnlyList<(Option<string?> Option, string Setting)> CreateOptions() =>
    [
        .. Sam2Settings.AutomaticGeneratorNames.Select(setting =>
        {
            var name = "--" + setting["AUTO_".Length..].ToLowerInvariant().Replace('_', '-');
            return (new Option<string?>(name) { Description = $"With --auto: SAM2's {setting["AUTO_".Length..].ToLowerInvariant()} (default {setting} or SAM2's)." }, setting);
        }),
    ];

    /// <summary>Generates the masks, writes the PNG and the JSON list; returns a summary.</summary>
    internal static async Task<AutomaticSegmentResult> RunAsync(ModelOptions options, DecoderOptions decoderOptions, AutomaticMaskOptions generator,
        string imagePath, string outPath, string jsonPath)
    {
        using var services = new ServiceCollection().AddLogging().AddMetrics().AddEncoder(options).AddDecoder(decoderOptions).BuildServiceProvider();
        var encoder = services.GetRequiredService<Sam2Encoder>();
        var decoder = services.GetRequiredService<Sam2Decoder>();
        var bytes = await File.ReadAllBytesAsync(imagePath);

        var start = Stopwatch.GetTimestamp();
        using var embedding = encoder.EncodeImage(bytes);
        var encodeMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        using var full = generator.CropNLayers > 0 ? FullResolutionImage.Decode(bytes, options.MaxImagePixels) : null;
        using var result = await new AutomaticMaskGenerator(decoder).GenerateAsync(embedding, generator,
            full is null ? null : (crop, _) => Task.FromResult(encoder.EncodeCrop(full, crop.X0, crop.Y0, crop.X1, crop.Y1)));

        WritePng(outPath, result);
        await using (var file = File.Create(jsonPath))
        {
            await JsonSerializer.SerializeAsync(file, Records(result), AutomaticSegmentJsonContext.Default.ListMaskRecord);
        }
        var s = result.Stats;
        return new AutomaticSegmentResult(result.Width, result.Height, result.Masks.Count, s.Prompts, s.DecoderRuns, s.CropEncodes, s.Candidates,
            s.AfterPredIou, s.AfterStability, Math.Round(encodeMs, 2), Math.Round(s.Elapsed.TotalMilliseconds, 2), encoder.Format, decoder.Format);
    }

    /// <summary>SAM2's records, in its output order.</summary>
    internal static List<MaskRecord> Records(AutomaticMaskResult result)
    {
        var pixels = new byte[result.Width * result.Height];
        var records = new List<MaskRecord>(result.Masks.Count);
        foreach (var m in result.Masks)
        {
            m.WritePixels(pixels);
            var (x, y, w, h) = m.Bbox;
            var (cx, cy, cw, ch) = MaskBoxes.ToXywh(m.CropBox);
            records.Add(new MaskRecord(
                new CocoRle([result.Height, result.Width], ColumnMajorCounts(pixels, result.Width, result.Height)),
                m.Area, [x, y, w, h], m.PredictedIou, [[m.PointX, m.PointY]], m.StabilityScore, [cx, cy, cw, ch]));
        }
        return records;
    }

    /// <summary>SAM2's <c>mask_to_rle_pytorch</c>: counts over the mask in Fortran (column-major) order, starting with background.</summary>
    internal static List<long> ColumnMajorCounts(ReadOnlySpan<byte> pixels, int width, int height)
    {
        var counts = new List<long>();
        var current = false;
        long run = 0;
        for (var x = 0; x < width; x++)
        {
            for (var y = 0; y < height; y++)
            {
                var on = pixels[y * width + x] != 0;
                if (on == current)
                {
                    run++;
                    continue;
                }
                counts.Add(run);
                current = on;
                run = 1;
            }
        }
        counts.Add(run);
        return counts;
    }

    /// <summary>One colour per mask (golden-ratio hues), larger masks first so smaller ones stay visible; black elsewhere.</summary>
    private static void WritePng(string path, AutomaticMaskResult result)
    {
        int width = result.Width, height = result.Height;
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        for (var i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
        var mask = new byte[width * height];
        var order = result.Masks.Select((m, i) => (m, i)).OrderByDescending(t => t.m.Area).ToList();
        foreach (var (m, i) in order)
        {
            var colour = SKColor.FromHsv((float)(i * 137.508 % 360), 75, 95);
            m.WritePixels(mask);
            for (var p = 0; p < mask.Length; p++)
            {
                if (mask[p] == 0) continue;
                rgba[4 * p] = colour.Red;
                rgba[4 * p + 1] = colour.Green;
                rgba[4 * p + 2] = colour.Blue;
            }
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}

/// <summary>The uncompressed RLE SAM2 returns: <c>{"size": [h, w], "counts": [...]}</c>, column-major.</summary>
internal sealed record CocoRle(int[] Size, List<long> Counts);

/// <summary>One record of SAM2AutomaticMaskGenerator.generate, fields in its order; floats are SAM2's float32 values.</summary>
internal sealed record MaskRecord(
    CocoRle Segmentation, long Area, int[] Bbox, float PredictedIou, float[][] PointCoords, float StabilityScore, int[] CropBox);

/// <summary>What <c>segment --auto --json</c> prints.</summary>
internal sealed record AutomaticSegmentResult(
    int Width, int Height, int Masks, long Prompts, long DecoderRuns, int CropEncodes, long Candidates, long AfterPredIou, long AfterStability,
    double EncodeMs, double GenerateMs, string EncoderFormat, string DecoderFormat);

// NaN is written as "NaN" (a stability score of 0/0 survives only stability_score_thresh=0).
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(List<MaskRecord>))]
[JsonSerializable(typeof(AutomaticSegmentResult))]
internal sealed partial class AutomaticSegmentJsonContext : JsonSerializerContext;
