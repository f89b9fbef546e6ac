using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Cli;

/// <summary><c>segment</c>: one image and a prompt in, the mask PNG out. Runs the same stages the server runs.</summary>
internal static class SegmentCommand
{
    public static Command Create()
    {
        var encoder = new Option<string?>("--encoder") { Description = "Encoder ONNX file (or use --model-dir/--model)." };
        var decoder = new Option<string?>("--decoder") { Description = "Decoder ONNX file." };
        var modelDir = new Option<string?>("--model-dir") { Description = "Folder with the model files (default MODEL_DIR or ./models)." };
        var model = new Option<string?>("--model") { Description = "Model name, e.g. sam2.1_hiera_tiny." };
        var image = new Option<string>("--image") { Description = "Image file.", Required = true };
        var points = new Option<string[]>("--point") { Description = "Positive click x,y in original pixels (repeatable)." };
        var negatives = new Option<string[]>("--negative") { Description = "Negative click x,y (repeatable)." };
        var boxes = new Option<string[]>("--box") { Description = "Box x0,y0,x1,y1 (repeatable: one mask per box, written as their union)." };
        var output = new Option<string>("--out") { Description = "Mask PNG to write (8-bit, 0 or 255).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with width, height, score, encode_ms, decode_ms." };
        var polygons = new Option<bool>("--polygons")
        {
            Description = "Add \"polygons\": [[[x,y],...],...] (pixels, one per connected component of the mask, largest first) to the " +
                "JSON, which is then printed; POLYGON_MIN_AREA, POLYGON_TOLERANCE and POLYGON_MAX_POINTS apply.",
        };
        var command = new Command("segment", "Segment one image with SAM2 and write the mask as a PNG.")
        {
            encoder, decoder, modelDir, model, image, points, negatives, boxes, output, json, polygons,
        };
        command.SetAction(parse =>
        {
            try
            {
                // The same settings model as the server: every setting that applies here (DEVICE, THREADS, MAX_IMAGE_PIXELS,
                // MAX_HOLE_AREA, the seed's MODEL_CONFIG, …) is honoured; the options override their settings.
                var settings = SettingReader.FromEnvironment(new Dictionary<string, string?>
                {
                    ["ENCODER_PATH"] = parse.GetValue(encoder),
                    ["DECODER_PATH"] = parse.GetValue(decoder),
                    ["MODEL_DIR"] = parse.GetValue(modelDir),
                    ["MODEL_NAME"] = parse.GetValue(model),
                });
                var clicks = (parse.GetValue(points) ?? []).Select(p => ParsePoint(p, true))
                    .Concat((parse.GetValue(negatives) ?? []).Select(p => ParsePoint(p, false))).ToList();
                var boxList = (parse.GetValue(boxes) ?? []).Select(ParseBox).ToList();
                var polygonOptions = parse.GetValue(polygons) ? Sam2Settings.ReadOutput(settings).Polygon : null;
                var result = Run(Sam2Settings.ReadModel(settings), Sam2Settings.ReadDecoder(settings), parse.GetValue(image)!, clicks, boxList, parse.GetValue(output)!,
                    polygonOptions);
                if (parse.GetValue(json) || polygonOptions is not null)
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(result, SegmentJsonContext.Default.SegmentResult));
                }
                return 0;
            }
            catch (Exception e) when (e is FormatException or FileNotFoundException or InvalidDataException or ImageDecodeException or ArgumentException or IOException)
            {
                Console.Error.WriteLine("segment: " + e.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>Encodes the image once, decodes every prompt, writes the union mask. Returns the timings and scores, and
    /// with <paramref name="polygonOptions"/> the union mask's polygons in pixels.</summary>
    internal static SegmentResult Run(ModelOptions options, DecoderOptions decoderOptions, string imagePath, IReadOnlyList<PromptPoint> clicks,
        IReadOnlyList<PromptBox> boxes, string outPath, PolygonOptions? polygonOptions = null)
    {
        if (clicks.Count == 0 && boxes.Count == 0) throw new ArgumentException("give at least one --point, --negative or --box");
        // The stages as the server composes them, with a meter scope of their own for the stage timings printed below.
        using var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddEncoder(options)
            .AddDecoder(decoderOptions)
            .BuildServiceProvider();
        using var stages = new StageTimings(services.GetRequiredService<IMeterFactory>());
        var encoder = services.GetRequiredService<Sam2Encoder>();
        var decoder = services.GetRequiredService<Sam2Decoder>();
        var bytes = File.ReadAllBytes(imagePath);

        var encodeStart = Stopwatch.GetTimestamp();
        using var embedding = encoder.EncodeImage(bytes);
        var encodeMs = Stopwatch.GetElapsedTime(encodeStart).TotalMilliseconds;

        // Points alone are one object; with boxes, every box is one object carrying the clicks.
        var prompts = boxes.Count == 0 ? [new Prompt(clicks)] : boxes.Select(b => new Prompt(clicks, b)).ToList();
        int width = embedding.OriginalWidth, height = embedding.OriginalHeight;
        var decodeStart = Stopwatch.GetTimestamp();
        var masks = decoder.PredictMany(embedding, prompts, width, height);
        var decodeMs = Stopwatch.GetElapsedTime(decodeStart).TotalMilliseconds;
        try
        {
            var union = masks[0].Pixels;
            for (var i = 1; i < masks.Length; i++)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(union, masks[i].Pixels, union);
            }
            WritePng(outPath, union, width, height);
            var polygons = polygonOptions is null ? null
                : MaskPolygons.Trace(union, width, height, polygonOptions)
                    .Select(p => p.Points.Select(q => new[] { Math.Round(q.X, 4), Math.Round(q.Y, 4) }).ToArray()).ToArray();
            return new SegmentResult(width, height, masks.Max(m => m.Score), masks.Select(m => m.Score).ToArray(),
                Math.Round(encodeMs, 2), Math.Round(stages.Milliseconds("encode"), 2), Math.Round(decodeMs, 2),
                encoder.Format, decoder.Format, masks.Length, union.Length - System.MemoryExtensions.Count(union, (byte)0), polygons);
        }
        finally
        {
            foreach (var m in masks) m.Dispose();
        }
    }

    /// <summary>Writes a one-byte-per-pixel mask as an 8-bit grayscale PNG (0/255), creating the folder if needed.</summary>
    internal static void WritePng(string path, ReadOnlySpan<byte> mask, int width, int height)
    {
        using var png = MaskPng.Encode(mask, width, height);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, png.WrittenMemory.Span);
    }

    internal static PromptPoint ParsePoint(string text, bool positive)
    {
        var v = ParseNumbers(text, 2, "x,y");
        return new PromptPoint(v[0], v[1], positive);
    }

    internal static PromptBox ParseBox(string text)
    {
        var v = ParseNumbers(text, 4, "x0,y0,x1,y1");
        return new PromptBox(Math.Min(v[0], v[2]), Math.Min(v[1], v[3]), Math.Max(v[0], v[2]), Math.Max(v[1], v[3]));
    }

    private static float[] ParseNumbers(string text, int count, string shape)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[count];
        if (parts.Length != count || parts.Select((p, i) => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) && float.IsFinite(values[i])).Any(ok => !ok))
            throw new FormatException($"'{text}' is not {shape} (numbers in original pixels, separated by commas)");
        return values;
    }
}

/// <summary>What <c>segment --json</c> prints.</summary>
internal sealed record SegmentResult(
    int Width, int Height, float Score, float[] Scores,
    double EncodeMs, double EncoderRunMs, double DecodeMs,
    string EncoderFormat, string DecoderFormat, int Masks, int ForegroundPixels,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    double[][][]? Polygons = null);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(SegmentResult))]
internal sealed partial class SegmentJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
