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
/// <c>cost [--encoder-runs N] [--decoder-runs N] [--threads N] [--encoder PATH --decoder PATH]</c>: median time of the bare
/// encoder and decoder session runs and the resident memory the first run of each adds, beside the reference costs of a
/// real SAM2.1-tiny export, to tune <see cref="StandInSize.Realistic"/> on the same machine (docs/benchmarks.md).
/// </summary>
internal static class StandInCost
{
    /// <summary>
    /// A real-architecture SAM2.1-tiny export (samexporter signature, 104 MiB encoder, 16 MiB decoder) run bare in ONNX
    /// Runtime 1.31 CPU on the benchmark machine kind (2-core AMD EPYC, idle): encoder run 3.6–4.4 s, decoder run 43–44 ms
    /// with one point (median of 21), one encoder run in a fresh process peaking at about 1.0 GiB resident (issue 14).
    /// </summary>
    public const double ReferenceEncoderMs = 4000, ReferenceDecoderMs = 44;

    /// <inheritdoc cref="ReferenceEncoderMs"/>
    public const long ReferenceEncoderPeakBytes = 1L << 30;

    /// <summary>How far the realistic stand-ins may be from the references (±15 %).</summary>
    public const double Tolerance = 0.15;

    /// <summary>
    /// What one model pair costs. Times are medians in milliseconds over the runs after the first (which pays lazy
    /// allocations); CPU is the process's CPU time per run, all threads. Memory is measured on the first run of each session:
    /// <see cref="ResidentBeforeEncoder"/> is the process before it, <see cref="EncoderPeak"/> the process's peak during it
    /// (null when the kernel does not report it).
    /// </summary>
    public sealed record Measurement(
        double EncoderWallMs, double EncoderCpuMs, double EncoderMinWallMs, int EncoderRuns,
        double DecoderWallMs, double DecoderCpuMs, double DecoderMinWallMs, int DecoderRuns,
        long? ResidentBeforeEncoder, long? EncoderPeak, long? ResidentBeforeDecoder, long? DecoderPeak, long? ResidentAfterEncoder = null)
    {
        public long? EncoderPeakAdded => EncoderPeak - ResidentBeforeEncoder;

        public long? DecoderPeakAdded => DecoderPeak - ResidentBeforeDecoder;
    }

    public static int Run(BenchArguments args)
    {
        var (encoderPath, decoderPath) = args.ResolveModels();
        var load = Stopwatch.StartNew();
        using var models = new BareModels(encoderPath, decoderPath, args.Threads, args.Arena);
        Console.WriteLine($"models: {encoderPath} | {decoderPath} (loaded in {load.Elapsed.TotalSeconds:F1} s); ENCODER_ARENA {args.Arena}");
        var cost = models.Measure(args.EncoderRuns, args.DecoderRuns);
        Print(cost, "");
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, load average {LoadAverage()}");
        if (args.UsesStandIns && !args.Small) CompareWithSmall(models.Encoder, models.Decoder);
        return 0;
    }

    /// <summary>Prints <paramref name="cost"/> beside the references, one line per quantity, each starting with <paramref name="indent"/>.</summary>
    public static void Print(Measurement cost, string indent)
    {
        // CPU ÷ wall is the number of cores a run kept busy: on an idle machine wall ≈ CPU ÷ that, so CPU time tells a busy
        // machine apart.
        Console.WriteLine($"{indent}encoder run: median {cost.EncoderWallMs:F0} ms wall, {cost.EncoderCpuMs:F0} ms CPU ({cost.EncoderCpuMs / cost.EncoderWallMs:F2} cores), over {cost.EncoderRuns} (min wall {cost.EncoderMinWallMs:F0}); reference {ReferenceEncoderMs:F0} ms: {Versus(cost.EncoderWallMs, ReferenceEncoderMs)}");
        Console.WriteLine($"{indent}decoder run: median {cost.DecoderWallMs:F1} ms wall, {cost.DecoderCpuMs:F1} ms CPU ({cost.DecoderCpuMs / cost.DecoderWallMs:F2} cores), over {cost.DecoderRuns} (min wall {cost.DecoderMinWallMs:F1}); reference {ReferenceDecoderMs:F0} ms: {Versus(cost.DecoderWallMs, ReferenceDecoderMs)}");
        Console.WriteLine($"{indent}encoder first run: peak {ProcessMemory.MiB(cost.EncoderPeak)} resident, {ProcessMemory.MiB(cost.EncoderPeakAdded)} above the {ProcessMemory.MiB(cost.ResidentBeforeEncoder)} before it; reference peak ≈ {ProcessMemory.MiB(ReferenceEncoderPeakBytes)}: {(cost.EncoderPeak is { } p ? Versus(p, ReferenceEncoderPeakBytes) : "n/a")}");
        Console.WriteLine($"{indent}decoder first run: {ProcessMemory.MiB(cost.DecoderPeakAdded)} above the {ProcessMemory.MiB(cost.ResidentBeforeDecoder)} before it");
        if (cost.ResidentAfterEncoder is { } after)
            Console.WriteLine($"{indent}between encodes: {ProcessMemory.MiB(after)} resident after the last encoder run (one embedding held), {ProcessMemory.MiB(after - cost.ResidentBeforeEncoder)} above the process before the first");
    }

    /// <summary>"1.03× (within ±15 %)" or "1.40× (OUTSIDE ±15 %)".</summary>
    private static string Versus(double measured, double reference)
    {
        var ratio = measured / reference;
        var within = Math.Abs(ratio - 1) <= Tolerance;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ratio:F2}× ({(within ? "within" : "OUTSIDE")} ±{Tolerance:P0})");
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

    /// <summary>One encoder and one decoder session on CPU, as the server creates them, with the decoder's stage timings.</summary>
    public sealed class BareModels : IDisposable
    {
        private readonly ServiceProvider _meters;
        private readonly StageTimings _stages;

        public BareModels(string encoderPath, string decoderPath, int threads, EncoderArena arena = EncoderArena.Keep)
        {
            var options = new ModelOptions { EncoderPath = encoderPath, DecoderPath = decoderPath, Device = "cpu", Threads = threads, EncoderArena = arena };
            _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var meterFactory = _meters.GetRequiredService<IMeterFactory>();
            _stages = new StageTimings(meterFactory);
            Encoder = new Sam2Encoder(encoderPath, options, NullLogger.Instance);
            // --threads applies to both bare sessions, as the references were measured (ONNX Runtime's default: one per core).
            Decoder = new Sam2Decoder(decoderPath, options, new DecoderOptions { Threads = threads }, NullLogger.Instance, new DecoderMetrics(meterFactory));
        }

        public Sam2Encoder Encoder { get; }

        public Sam2Decoder Decoder { get; }

        /// <summary>
        /// <paramref name="encoderRuns"/> + 1 encoder runs on a zero image, then <paramref name="decoderRuns"/> + 2 one-point
        /// decoder runs on its embedding; the first of each is not timed (lazy allocations) but its memory is measured. Call once
        /// per instance: the memory figures are those of fresh sessions.
        /// </summary>
        public Measurement Measure(int encoderRuns, int decoderRuns)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(encoderRuns);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(decoderRuns);
            var input = new float[Sam2Preprocessor.TensorLength];
            var encodeTimes = new List<double>();
            var encodeCpu = new List<double>();
            ImageEmbedding? embedding = null;
            long? residentBeforeEncoder = null, encoderPeak = null;
            for (var i = 0; i < encoderRuns + 1; i++)
            {
                embedding?.Dispose();
                if (i == 0) residentBeforeEncoder = ResidentAfterReset();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var start = Stopwatch.GetTimestamp();
                embedding = Encoder.Run(input, 1024, 1024);
                var run = Stopwatch.GetElapsedTime(start);
                if (i == 0)
                {
                    encoderPeak = residentBeforeEncoder is null ? null : ProcessMemory.Peak();
                    continue;
                }
                encodeTimes.Add(run.TotalMilliseconds);
                encodeCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
            }

            var residentAfterEncoder = ProcessMemory.Resident();
            var prompt = new Prompt([new PromptPoint(512, 512, true)]);
            var decodeTimes = new List<double>();
            var decodeCpu = new List<double>();
            long? residentBeforeDecoder = null, decoderPeak = null;
            for (var i = 0; i < decoderRuns + 2; i++)
            {
                if (i == 0) residentBeforeDecoder = ResidentAfterReset();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                using var mask = Decoder.Predict(embedding!, prompt, 1024, 1024);
                if (i == 0) decoderPeak = residentBeforeDecoder is null ? null : ProcessMemory.Peak();
                if (i < 2) continue;
                decodeTimes.Add(_stages.LastMilliseconds("decode"));
                decodeCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
            }
            embedding!.Dispose();
            return new Measurement(
                Stats.Median(encodeTimes), Stats.Median(encodeCpu), encodeTimes.Min(), encodeTimes.Count,
                Stats.Median(decodeTimes), Stats.Median(decodeCpu), decodeTimes.Min(), decodeTimes.Count,
                residentBeforeEncoder, encoderPeak, residentBeforeDecoder, decoderPeak, residentAfterEncoder);
        }

        /// <summary>Collects garbage, resets the peak and returns the resident bytes now; null when the peak cannot be reset
        /// (then no peak is reported: the process's peak since start would not be this run's).</summary>
        private static long? ResidentAfterReset()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return ProcessMemory.ResetPeak() ? ProcessMemory.Resident() : null;
        }

        public void Dispose()
        {
            Decoder.Dispose();
            Encoder.Dispose();
            _stages.Dispose();
            _meters.Dispose();
        }
    }
}
