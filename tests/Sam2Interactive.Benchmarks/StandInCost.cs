using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>cost [--runs N] [--encoder PATH --decoder PATH]</c>: median time of the bare encoder and decoder session runs, to tune
/// <see cref="StandInSize.Realistic"/> against a real SAM2.1-tiny export on the same machine.
/// </summary>
internal static class StandInCost
{
    public static int Run(BenchArguments args)
    {
        var (encoderPath, decoderPath) = args.ResolveModels();
        var options = new ModelOptions { EncoderPath = encoderPath, DecoderPath = decoderPath, Device = "cpu", Threads = args.Threads };
        var load = Stopwatch.StartNew();
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = meters.GetRequiredService<IMeterFactory>();
        using var stages = new StageTimings(meterFactory);
        using var encoder = new Sam2Encoder(encoderPath, options, NullLogger.Instance);
        using var decoder = new Sam2Decoder(decoderPath, options, new DecoderOptions(), NullLogger.Instance, new DecoderMetrics(meterFactory));
        Console.WriteLine($"models: {encoderPath} | {decoderPath} (loaded in {load.Elapsed.TotalSeconds:F1} s)");

        var input = new float[Sam2Preprocessor.TensorLength];
        var encodeTimes = new List<double>();
        var encodeCpu = new List<double>();
        ImageEmbedding? embedding = null;
        for (var i = 0; i < args.EncoderRuns + 1; i++)
        {
            embedding?.Dispose();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var start = Stopwatch.GetTimestamp();
            embedding = encoder.Run(input, 1024, 1024);
            var run = Stopwatch.GetElapsedTime(start);
            if (i == 0) continue; // first run includes lazy allocations
            encodeTimes.Add(run.TotalMilliseconds);
            encodeCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
        }

        var prompt = new Prompt([new PromptPoint(512, 512, true)]);
        var decodeTimes = new List<double>();
        var decodeCpu = new List<double>();
        for (var i = 0; i < args.DecoderRuns + 2; i++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            using var mask = decoder.Predict(embedding!, prompt, 1024, 1024);
            if (i < 2) continue;
            decodeTimes.Add(stages.LastMilliseconds("decode"));
            decodeCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
        }
        embedding!.Dispose();
        if (args.UsesStandIns && !args.Small) CompareWithSmall(encoder, decoder);
        // CPU time tells a busy machine apart: wall ≈ CPU / cores when the cores are free.
        Console.WriteLine($"encoder run: median {Stats.Median(encodeTimes):F0} ms wall, {Stats.Median(encodeCpu):F0} ms CPU, over {encodeTimes.Count} (min wall {encodeTimes.Min():F0})");
        Console.WriteLine($"decoder run: median {Stats.Median(decodeTimes):F1} ms wall, {Stats.Median(decodeCpu):F1} ms CPU, over {decodeTimes.Count} (min wall {decodeTimes.Min():F1})");
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, load average {LoadAverage()}");
        return 0;
    }

    /// <summary>
    /// Realistic stand-ins must segment exactly like the small ones: encodes one synthetic image with both pairs and prints the
    /// largest encoder output difference and whether the decoder's mask bytes and score are identical.
    /// </summary>
    private static void CompareWithSmall(Sam2Encoder encoder, Sam2Decoder decoder)
    {
        var (smallEncoderPath, smallDecoderPath) = StandInModels.Write(
            Path.Combine(Path.GetTempPath(), "sam2i-bench-standins", "small"), StandInFormat.SamExporter);
        var options = new ModelOptions { EncoderPath = smallEncoderPath, DecoderPath = smallDecoderPath, Device = "cpu" };
        using var smallEncoder = new Sam2Encoder(smallEncoderPath, options, NullLogger.Instance);
        using var smallDecoder = new Sam2Decoder(smallDecoderPath, options, new DecoderOptions(), NullLogger.Instance);
        var image = Scenes.Photo(1024, 1024);
        using var big = encoder.EncodeImage(image.Encoded);
        using var small = smallEncoder.EncodeImage(image.Encoded);
        var maxDiff = 0f;
        foreach (var (a, b) in new[] { (big.ImageEmbed, small.ImageEmbed), (big.HighResFeats0, small.HighResFeats0), (big.HighResFeats1, small.HighResFeats1) })
        {
            var x = a.Span;
            var y = b.Span;
            for (var i = 0; i < x.Length; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(x[i] - y[i]));
        }
        var prompt = new Prompt([new PromptPoint(image.Click.X, image.Click.Y, true)]);
        using var bigMask = decoder.Predict(big, prompt, image.Width, image.Height);
        using var smallMask = smallDecoder.Predict(small, prompt, image.Width, image.Height);
        var same = bigMask.Pixels.SequenceEqual(smallMask.Pixels) && bigMask.Score == smallMask.Score;
        Console.WriteLine($"realistic vs small: max |encoder output diff| {maxDiff:G3}; mask and score identical: {same} (area {bigMask.Area} px)");
    }

    /// <summary>The 1-minute load average from /proc/loadavg ("?" elsewhere): other work on the box inflates wall times.</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
