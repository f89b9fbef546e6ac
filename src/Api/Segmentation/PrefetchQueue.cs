using System.Threading.Channels;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Api.Metrics;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Api.Segmentation;

/// <summary>
/// Images to encode ahead of the first click: opened tasks (no-context /predict) before imports (webhook, POST /prefetch).
/// Each queue is bounded by <c>PREFETCH_QUEUE</c> (default 1000); when full the oldest request is dropped and counted.
/// Images already cached are skipped before any download. Drained by one worker; the encoder itself serves a waiting click
/// first (see <see cref="EncodePriority"/>).
/// </summary>
internal sealed class PrefetchQueue : BackgroundService
{
    private readonly Channel<(string Uri, long? TaskId)> _opened;
    private readonly Channel<(string Uri, long? TaskId)> _imports;
    private readonly SegmentationService _segmentation;
    private readonly ApiMetrics _metrics;
    private readonly ILogger<PrefetchQueue> _logger;
    private long _completed;
    private long _failed;

    // Set before each dequeue attempt and cleared only when the worker goes idle: depth 0 with _active 0 means every
    // request queued earlier has finished (a reader that sees depth first, then _active, never misses one).
    private int _active;

    public PrefetchQueue(SegmentationService segmentation, ApiMetrics metrics, ServerOptions options, ILogger<PrefetchQueue> logger)
    {
        _metrics = metrics;
        _opened = NewChannel(options.PrefetchQueueCapacity);
        _imports = NewChannel(options.PrefetchQueueCapacity);
        _segmentation = segmentation;
        _logger = logger;
        Capacity = options.PrefetchQueueCapacity;
        metrics.Meter.CreateObservableGauge("sam2_prefetch_queue_depth", () => Depth, description: "Images waiting in the prefetch queue.");
        // sam2i prefetch sizes its batches from capacity − depth and counts progress from these two.
        metrics.Meter.CreateObservableGauge("sam2_prefetch_queue_capacity", () => Capacity, description: "Capacity of each prefetch queue (PREFETCH_QUEUE).");
        metrics.Meter.CreateObservableGauge("sam2_prefetch_active", () => Volatile.Read(ref _active),
            description: "1 while the prefetch worker holds a request it took from the queue (fetching or encoding it), else 0.");
        metrics.Meter.CreateObservableCounter("sam2_prefetch_completed_total", () => Completed, description: "Prefetch requests whose embedding is now held.");
        metrics.Meter.CreateObservableCounter("sam2_prefetch_failed_total", () => Failed, description: "Prefetch requests whose fetch or encode failed.");
    }

    /// <summary>PREFETCH_QUEUE: capacity of each of the two queues.</summary>
    public int Capacity { get; }

    private Channel<(string, long?)> NewChannel(int capacity) => Channel.CreateBounded<(string, long?)>(
        new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
        _ => _metrics.PrefetchDropped());

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public int Depth => _opened.Reader.Count + _imports.Reader.Count;

    /// <summary>Queues an image unless its embedding is already held here. Never blocks.</summary>
    /// <returns>False when the embedding is already held (nothing was queued).</returns>
    public bool Enqueue(string imageUri, long? taskId, EncodePriority priority)
    {
        if (_segmentation.IsCached(imageUri)) return false;
        (priority == EncodePriority.OpenedTask ? _opened : _imports).Writer.TryWrite((imageUri, taskId));
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            EncodePriority priority;
            (string Uri, long? TaskId) item;
            Volatile.Write(ref _active, 1);
            if (_opened.Reader.TryRead(out item)) priority = EncodePriority.OpenedTask;
            else if (_imports.Reader.TryRead(out item)) priority = EncodePriority.Prefetch;
            else
            {
                Volatile.Write(ref _active, 0);
                try
                {
                    var opened = _opened.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    var imports = _imports.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    await Task.WhenAny(opened, imports).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            try
            {
                using var embedding = await _segmentation.GetEmbeddingAsync(item.Uri, item.TaskId, priority, stoppingToken).ConfigureAwait(false);
                Interlocked.Increment(ref _completed);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A bad task must not stop the worker; the click on it will report the error to the annotator.
                Interlocked.Increment(ref _failed);
                Log.PrefetchFailed(_logger, item.TaskId, e.Message);
            }
        }
    }

    /// <summary>
    /// Stops the worker, then waits (within the host's SHUTDOWN_TIMEOUT) until no encode is running. The worker's current
    /// image keeps encoding in a shared run after the worker stops waiting for it; that run holds the cluster encode lock
    /// and must release it before the encoder and the Redis tier are disposed, or other replicas wait out LOCK_TTL.
    /// Kestrel stops before this service (the web host service is registered last, so it stops first), so clicks have
    /// drained and start no new runs.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _segmentation.WhenIdleAsync(cancellationToken).ConfigureAwait(false);
    }
}
