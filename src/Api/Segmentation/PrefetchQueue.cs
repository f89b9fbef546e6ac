using System.Threading.Channels;

namespace Sam2Interactive.Api.Segmentation;

/// <summary>
/// Images to encode ahead of the first click (task import webhook, task opened). Bounded by <c>PREFETCH_QUEUE</c>
/// (default 1000); when full the oldest request is dropped and counted. Drained by one background worker.
/// </summary>
internal sealed partial class PrefetchQueue : BackgroundService
{
    private readonly Channel<(string Uri, long? TaskId)> _channel;
    private readonly SegmentationService _segmentation;
    private readonly ILogger<PrefetchQueue> _logger;
    private long _dropped;
    private long _completed;
    private long _failed;

    public PrefetchQueue(SegmentationService segmentation, IConfiguration configuration, ILogger<PrefetchQueue> logger)
    {
        var capacity = Decoder.DecoderOptions.ReadInt(configuration, "PREFETCH_QUEUE", 1000, 1, 1_000_000);
        _channel = Channel.CreateBounded<(string, long?)>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
        _segmentation = segmentation;
        _logger = logger;
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public int Depth => _channel.Reader.Count;

    /// <summary>Queues an image unless its embedding is already held. Never blocks.</summary>
    public void Enqueue(string imageUri, long? taskId)
    {
        if (_segmentation.IsCached(imageUri)) return;
        _channel.Writer.TryWrite((imageUri, taskId));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (uri, taskId) in _channel.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                using var embedding = await _segmentation.GetEmbeddingAsync(uri, taskId, stoppingToken).ConfigureAwait(false);
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
                LogPrefetchFailed(_logger, taskId, e.Message);
            }
        }
    }

    [LoggerMessage(1101, LogLevel.Warning, "Prefetch of task {TaskId} failed: {Reason}")]
    private static partial void LogPrefetchFailed(ILogger logger, long? taskId, string reason);
}
