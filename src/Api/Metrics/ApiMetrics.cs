using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Metrics;

/// <summary>The host's own instruments on the meter <see cref="MeterName"/> (Prometheus names: an interface).</summary>
internal sealed class ApiMetrics
{
    public const string MeterName = "Sam2Interactive.Api";

    private readonly Counter<long> _httpRequests;
    private readonly Histogram<double> _httpSeconds;
    private readonly Histogram<double> _clickSeconds;
    private readonly Histogram<double> _stageSeconds;
    private readonly Counter<long> _prefetchDropped;

    public ApiMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = StageHistogram.Buckets };
        _httpRequests = Meter.CreateCounter<long>("sam2_http_requests_total", description: "HTTP requests by endpoint and status code.");
        _httpSeconds = Meter.CreateHistogram("sam2_http_request_seconds", "s", "HTTP request latency by endpoint.", advice: seconds);
        _clickSeconds = Meter.CreateHistogram("sam2_click_seconds", "s", "Whole interactive /predict requests.", advice: seconds);
        _stageSeconds = StageHistogram.Create(Meter);
        _prefetchDropped = Meter.CreateCounter<long>("sam2_prefetch_dropped_total",
            description: "Prefetch requests dropped because the queue was full (oldest first).");
        _prefetchDropped.Add(0); // exported as 0 from the start, as dashboards expect of a counter
    }

    /// <summary>The host's meter, for instruments owned by other host components (the prefetch queue's depth gauge).</summary>
    public Meter Meter { get; }

    public void HttpRequest(string endpoint, int statusCode, TimeSpan elapsed)
    {
        var endpointTag = new KeyValuePair<string, object?>("endpoint", endpoint);
        _httpRequests.Add(1, endpointTag, new KeyValuePair<string, object?>("code", statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        _httpSeconds.Record(elapsed.TotalSeconds, endpointTag);
    }

    public void Click(long startTimestamp) => _clickSeconds.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    /// <summary>A stage timed in the host (<c>rle</c>: the brush encoding of a mask; <c>automatic</c>: one task's automatic masks).</summary>
    public void Stage(string stage, long startTimestamp) => _stageSeconds.Record(stage, Stopwatch.GetElapsedTime(startTimestamp));

    public void PrefetchDropped() => _prefetchDropped.Add(1);
}
