using Prometheus;

namespace Sam2Interactive.Cache;

/// <summary>
/// This process's metrics, in a registry of its own (not prometheus-net's static default), so several server instances in
/// one process — as the multi-replica tests run them — each report their own counts at their own /metrics.
/// </summary>
internal sealed class Sam2Metrics
{
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    public Sam2Metrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        EncoderRuns = f.CreateCounter("sam2_encoder_runs_total", "Image encoder runs in this process.");
        DecoderRuns = f.CreateCounter("sam2_decoder_runs_total", "Prompt decoder runs in this process.");
        CacheLookups = f.CreateCounter("sam2_cache_lookups_total", "Embedding cache lookups by tier and result.", new CounterConfiguration { LabelNames = ["tier", "result"] });
        SingleFlightWaits = f.CreateCounter("sam2_singleflight_waits_total", "Requests that waited for an encoder run started by another request or replica.");
        PrefetchQueueDepth = f.CreateGauge("sam2_prefetch_queue_depth", "Images waiting in the prefetch queue.");
        PrefetchDropped = f.CreateCounter("sam2_prefetch_dropped_total", "Prefetch requests dropped because the queue was full (oldest first).");
        StageSeconds = f.CreateHistogram("sam2_stage_seconds", "Time per pipeline stage.", new HistogramConfiguration { LabelNames = ["stage"], Buckets = SecondsBuckets });
        ClickSeconds = f.CreateHistogram("sam2_click_seconds", "Whole interactive /predict requests.", new HistogramConfiguration { Buckets = SecondsBuckets });
        HttpRequests = f.CreateCounter("sam2_http_requests_total", "HTTP requests by endpoint and status code.", new CounterConfiguration { LabelNames = ["endpoint", "code"] });
        HttpSeconds = f.CreateHistogram("sam2_http_request_seconds", "HTTP request latency by endpoint.", new HistogramConfiguration { LabelNames = ["endpoint"], Buckets = SecondsBuckets });
    }

    public CollectorRegistry Registry { get; }

    public Counter EncoderRuns { get; }

    public Counter DecoderRuns { get; }

    public Counter CacheLookups { get; }

    public Counter SingleFlightWaits { get; }

    public Gauge PrefetchQueueDepth { get; }

    public Counter PrefetchDropped { get; }

    public Histogram StageSeconds { get; }

    public Histogram ClickSeconds { get; }

    public Counter HttpRequests { get; }

    public Histogram HttpSeconds { get; }

    /// <summary>Records one lookup: tier "memory" or "redis", hit or miss.</summary>
    public void Lookup(string tier, bool hit) => CacheLookups.WithLabels(tier, hit ? "hit" : "miss").Inc();

    /// <summary>Records a stage's duration from a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
    public void Stage(string stage, long startTimestamp) =>
        StageSeconds.WithLabels(stage).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
}
