using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// The cache stage's instruments on the meter <see cref="MeterName"/>. Instrument names are the Prometheus names that
/// dashboards read (an interface: never rename). Created through <see cref="IMeterFactory"/>, so each host (the tests run
/// several replicas in one process) has meters of its own.
/// </summary>
public sealed class CacheMetrics
{
    public const string MeterName = "Sam2Interactive.Cache";

    private readonly Counter<long> _lookups;
    private readonly Counter<long> _singleFlightWaits;
    private readonly Histogram<double> _stageSeconds;

    /// <param name="meterFactory">The host's factory; null makes a meter no host exports (tools, tests).</param>
    public CacheMetrics(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _lookups = meter.CreateCounter<long>("sam2_cache_lookups_total", description: "Embedding cache lookups by tier and result.");
        _singleFlightWaits = meter.CreateCounter<long>("sam2_singleflight_waits_total",
            description: "Requests that waited for an encoder run started by another request or replica.");
        _stageSeconds = StageHistogram.Create(meter);
        _singleFlightWaits.Add(0); // exported as 0 from the start, as dashboards expect of a counter
    }

    /// <summary>Records one lookup: tier "memory" or "redis", hit or miss.</summary>
    public void Lookup(string tier, bool hit) =>
        _lookups.Add(1, new KeyValuePair<string, object?>("tier", tier), new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    public void SingleFlightWait() => _singleFlightWaits.Add(1);

    /// <summary>Records the time since <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>) for a stage.</summary>
    public void Stage(string stage, long startTimestamp) =>
        _stageSeconds.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, new KeyValuePair<string, object?>("stage", stage));
}
