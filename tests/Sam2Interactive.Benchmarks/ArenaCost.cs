using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>arena-cost [--encoder-runs N] [--threads N]</c>: what each <c>ENCODER_ARENA</c> choice costs per encode. One encoder
/// session per choice in this process, run in rounds (keep, off, shrink, keep, …) on the same input so load from other
/// processes lands on all three; prints the median wall and CPU time of each and its ratio to <c>keep</c> (ONNX Runtime's
/// default). Memory is not measured here (three sessions share the process): the <c>memory</c> command does that.
/// </summary>
internal static class ArenaCost
{
    public static int Run(BenchArguments args)
    {
        var (encoderPath, decoderPath) = args.ResolveModels();
        EncoderArena[] arenas = [EncoderArena.Keep, EncoderArena.Off, EncoderArena.Shrink];
        var encoders = arenas.Select(a => new Sam2Encoder(encoderPath, new ModelOptions
        {
            EncoderPath = encoderPath,
            DecoderPath = decoderPath,
            Device = "cpu",
            Threads = args.Threads,
            EncoderArena = a,
        }, NullLogger.Instance)).ToList();
        try
        {
            var input = new float[Sam2Preprocessor.TensorLength];
            var wall = arenas.Select(_ => new List<double>()).ToList();
            var cpu = arenas.Select(_ => new List<double>()).ToList();
            Console.WriteLine($"models: {encoderPath}; threads {args.Threads} (0: one per core); {args.EncoderRuns} timed rounds after one untimed");
            Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, load average {StandInCost.LoadAverage()}");
            for (var round = 0; round <= args.EncoderRuns; round++)
            {
                for (var i = 0; i < encoders.Count; i++)
                {
                    var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
                    var start = Stopwatch.GetTimestamp();
                    using (encoders[i].Run(input, 1024, 1024)) { }
                    if (round == 0) continue; // the first run of each session pays its lazy allocations
                    wall[i].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    cpu[i].Add((Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalMilliseconds);
                }
            }
            var keepCpu = Stats.Median(cpu[0]);
            var keepWall = Stats.Median(wall[0]);
            for (var i = 0; i < arenas.Length; i++)
            {
                var c = Stats.Median(cpu[i]);
                var w = Stats.Median(wall[i]);
                Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"ENCODER_ARENA={arenas[i].ToString().ToLowerInvariant(),-6}: median {w,7:F0} ms wall ({w / keepWall:F3}× keep), {c,7:F0} ms CPU ({c / keepCpu:F3}× keep); CPU per run {string.Join(' ', cpu[i].Select(x => x.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}"));
            }
            Console.WriteLine($"load average at end {StandInCost.LoadAverage()}");
            return 0;
        }
        finally
        {
            foreach (var e in encoders) e.Dispose();
        }
    }
}
