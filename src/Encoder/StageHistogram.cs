using System.Diagnostics.Metrics;

namespace Sam2Interactive.Encoder;

/// <summary>
/// <c>sam2_stage_seconds{stage}</c>: every stage records its own timings into an instrument of this name on its own meter;
/// the exporter merges them into one Prometheus histogram. Name, label and buckets are an interface (dashboards).
/// </summary>
public static class StageHistogram
{
    public const string Name = "sam2_stage_seconds";

    /// <summary>Upper bounds of the buckets, in seconds.</summary>
    public static IReadOnlyList<double> Buckets { get; } = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Creates the stage histogram on <paramref name="meter"/>.</summary>
    public static Histogram<double> Create(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        return meter.CreateHistogram(Name, unit: "s", description: "Time per pipeline stage.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });
    }

    /// <summary>Records <paramref name="elapsed"/> for <paramref name="stage"/>.</summary>
    public static void Record(this Histogram<double> histogram, string stage, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        histogram.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("stage", stage));
    }
}
