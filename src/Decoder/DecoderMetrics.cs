using System.Diagnostics.Metrics;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

/// <summary>The decoder stage's instruments on the meter <see cref="MeterName"/> (Prometheus names: an interface).</summary>
public sealed class DecoderMetrics
{
    public const string MeterName = "Sam2Interactive.Decoder";

    /// <param name="meterFactory">The host's factory; null makes a meter no host exports (tools, tests).</param>
    public DecoderMetrics(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Runs = meter.CreateCounter<long>("sam2_decoder_runs_total", description: "Prompt decoder runs in this process.");
        Runs.Add(0); // exported as 0 from the start, as dashboards expect of a counter
        StageSeconds = StageHistogram.Create(meter);
    }

    /// <summary>Decoder session runs, counted by the run itself (exact under concurrent clicks; the warm-up is not counted).</summary>
    internal Counter<long> Runs { get; }

    /// <summary>Stages <c>decode</c> (session run) and <c>postprocess</c> (selection, clamping, hole/sprinkle filling, per mask;
    /// the upsampling runs with the output encoding, e.g. Api's <c>rle</c> stage).</summary>
    internal Histogram<double> StageSeconds { get; }
}
