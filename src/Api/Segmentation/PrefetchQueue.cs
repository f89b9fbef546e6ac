using System.Threading.Channels;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Api.Segmentation;

/// <summary>
/// Images to encode ahead of the first click: opened tasks (no-context /predict) before imports (webhook, POST /prefetch).
/// Each queue is bounded by <c>PREFETCH_QUEUE</c> (default 1000); when full the oldest request is dropped and counted.
/// Images already cached are skipped before any download. Drained by one worker; the encoder itself serves a waiting click
/// first (see <see cref="EncodePriority"/>).
/// </summary>
internal sealed partial class PrefetchQueue : BackgroundService
{
    private readonly Channel<(string Uri, long? TaskId)> _opened;
    private readonly Channel<(string Uri, long? TaskId)> _imports;
    private readonly SegmentationService _segmentation;
    private readonly Sam2Metrics _metrics;
    private readonly ILogger<PrefetchQueue> _logger;
    private long _completed;
    private long _failed;

    public PrefetchQueue(SegmentationService segmentation, Sam2Metrics metrics, IConfiguration configuration, ILogger<PrefetchQueue> logger)
    {
        var capacity = Encoder.Settings.ReadInt(configuration, "PREFETCH_QUEUE", 1000, 1, 1_000_000);
        _opened = NewChannel(capacity);
        _imports = NewChannel(capacity);
        _segmentation = segmentation;
        _metrics = metrics;
        _logger = logger;
    }

    private Channel<(string, long?)> NewChannel(int capacity) => Channel.CreateBounded<(string, long?)>(
        new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
        _ => _metrics.PrefetchDropped.Inc());

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public int Depth => _opened.Reader.Count + _imports.Reader.Count;

    /// <summary>Queues an image unless its embedding is already held here. Never blocks.</summary>
    public void Enqueue(string imageUri, long? taskId, EncodePriority priority)
    {
        if (_segmentation.IsCached(imageUri)) return;
        (priority == EncodePriority.OpenedTask ? _opened : _imports).Writer.TryWrite((imageUri, taskId));
        _metrics.PrefetchQueueDepth.Set(Depth);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            EncodePriority priority;
            (string Uri, long? TaskId) item;
            if (_opened.Reader.TryRead(out item)) priority = EncodePriority.OpenedTask;
            else if (_imports.Reader.TryRead(out item)) priority = EncodePriority.Prefetch;
            else
            {
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
            _metrics.PrefetchQueueDepth.Set(Depth);
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
                LogPrefetchFailed(_logger, item.TaskId, e.Message);
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

    [LoggerMessage(1101, LogLevel.Warning, "Prefetch of task {TaskId} failed: {Reason}")]
    private static partial void LogPrefetchFailed(ILogger logger, long? taskId, string reason);
}
