using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;

namespace Sam2Interactive.Benchmarks;

/// <summary>Options shared by the driver's commands: <c>--encoder/--decoder</c> (real model files; default: the realistic
/// stand-ins generated into a temp folder), <c>--threads</c>, <c>--encoder-runs</c> (5) and <c>--decoder-runs</c> (21) timed runs for <c>cost</c>, <c>--small</c> (small stand-ins, a smoke run), <c>--redis-only</c> (<c>quick</c>: only its Redis rows),
/// <c>--arena off|shrink|keep</c> (the bare encoder session's <c>ENCODER_ARENA</c>, for <c>cost</c>).</summary>
internal sealed class BenchArguments
{
    public string? Encoder { get; private set; }
    public string? Decoder { get; private set; }
    public int Threads { get; private set; }
    public int EncoderRuns { get; private set; } = 5;
    public int DecoderRuns { get; private set; } = 21;
    public bool Small { get; private set; }
    public bool RedisOnly { get; private set; }
    public string? RedisServer { get; private set; }
    public EncoderArena Arena { get; private set; } = EncoderArena.Keep;

    public static BenchArguments Parse(IEnumerable<string> args)
    {
        var result = new BenchArguments();
        using var e = args.GetEnumerator();
        string Next(string name) => e.MoveNext() ? e.Current : throw new ArgumentException($"{name} needs a value");
        while (e.MoveNext())
        {
            switch (e.Current)
            {
                case "--encoder": result.Encoder = Next("--encoder"); break;
                case "--decoder": result.Decoder = Next("--decoder"); break;
                case "--threads": result.Threads = int.Parse(Next("--threads"), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--encoder-runs": result.EncoderRuns = int.Parse(Next("--encoder-runs"), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--decoder-runs": result.DecoderRuns = int.Parse(Next("--decoder-runs"), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--small": result.Small = true; break;
                case "--redis-only": result.RedisOnly = true; break;
                case "--redis-server": result.RedisServer = Next("--redis-server"); break;
                case "--arena": result.Arena = Enum.Parse<EncoderArena>(Next("--arena"), ignoreCase: true); break;
                default: throw new ArgumentException($"unknown option '{e.Current}'");
            }
        }
        if ((result.Encoder is null) != (result.Decoder is null)) throw new ArgumentException("give both --encoder and --decoder, or neither");
        return result;
    }

    /// <summary>The model pair to use: the given files, or stand-ins (realistic unless <c>--small</c>) written once per size.</summary>
    public (string Encoder, string Decoder) ResolveModels()
    {
        if (Encoder is not null) return (Encoder, Decoder!);
        var size = Small ? StandInSize.Small : StandInSize.Realistic;
        var dir = Path.Combine(Path.GetTempPath(), "sam2i-bench-standins", size.ToString().ToLowerInvariant());
        return StandInModels.Write(dir, StandInFormat.SamExporter, size: size);
    }

    public bool UsesStandIns => Encoder is null;
}
