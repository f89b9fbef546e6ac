using System.Diagnostics.Metrics;

namespace Sam2Interactive.Encoder;

/// <summary>The encoder stage's instruments on the meter <see cref="MeterName"/> (Prometheus names: an interface).</summary>
public sealed class EncoderMetrics
{
    public const string MeterName = "Sam2Interactive.Encoder";

    /// <param name="meterFactory">The host's factory; null makes a meter no host exports (tools, tests).</param>
    public EncoderMetrics(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Runs = meter.CreateCounter<long>("sam2_encoder_runs_total", description: "Image encoder runs in this process.");
        Runs.Add(0); // exported as 0 from the start, as dashboards expect of a counter
        StageSeconds = StageHistogram.Create(meter);
    }

    /// <summary>Encoder session runs for images (the start-up warm-up is not counted).</summary>
    internal Counter<long> Runs { get; }

    /// <summary>Stages <c>image_decode</c> (bytes → RGB) and <c>encode</c> (preprocessing + session run).</summary>
    internal Histogram<double> StageSeconds { get; }
}
