using System.Collections.Concurrent;
using System.Threading.Channels;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Api.Automatic;

/// <summary>How <see cref="AutomaticPredictions.AnnotateAsync"/> ended for a task.</summary>
internal enum AnnotateOutcome
{
    /// <summary>Generated here and posted to Label Studio.</summary>
    Created,

    /// <summary>Label Studio already has a prediction of this model version for the task: nothing done.</summary>
    Exists,

    /// <summary>Another request of this process was already generating it (a task opened meanwhile); its result counts.</summary>
    Joined,
}

/// <summary>
/// Automatic masks as Label Studio predictions, at most once per task and model version. A task opened without prompts
/// (<see cref="OnTaskOpenedAsync"/>) is answered within <c>AUTO_PREDICT_BUDGET</c> when its embedding is held and the work
/// is expected to fit; otherwise the call is answered with nothing at once and the masks are generated in the background
/// (one queue of <c>AUTO_QUEUE</c> tasks, oldest dropped) and posted through <c>POST /api/predictions/</c>.
/// <see cref="AnnotateAsync"/> (<c>sam2i annotate</c>) generates and posts one task now. Before posting, Label Studio is
/// asked whether the task already has a prediction of this model version (a restart, another replica), and then skipped.
/// </summary>
internal sealed class AutomaticPredictions : BackgroundService
{
    private const int MaxRemembered = 100_000;
    private const int Running = 0, Answered = 1, Post = 2;

    private readonly AutomaticAnnotator _annotator;
    private readonly LabelStudioApi _api;
    private readonly AutomaticOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Job> _queue;
    private readonly ConcurrentDictionary<(long TaskId, string ModelVersion), Job> _jobs = new();
    private readonly ConcurrentDictionary<Task, bool> _inline = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _posted;
    private long _failed;

    public AutomaticPredictions(AutomaticAnnotator annotator, LabelStudioApi api, AutomaticOptions options, ILogger<AutomaticPredictions> logger)
    {
        _annotator = annotator;
        _api = api;
        _options = options;
        _logger = logger;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(options.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped => _jobs.TryRemove(new KeyValuePair<(long, string), Job>(dropped.Key, dropped)));
    }

    /// <summary>Predictions posted to Label Studio since start.</summary>
    public long Posted => Interlocked.Read(ref _posted);

    /// <summary>Tasks whose generation or posting failed since start.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Tasks waiting in the background queue.</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>
    /// A task was opened (or "Retrieve predictions" ran) without prompts. Returns its prediction when it was generated
    /// within <c>AUTO_PREDICT_BUDGET</c>; null when the answer is nothing now: the task is then generated in the background
    /// and posted, unless it already is (once per task and model version) or cannot be posted.
    /// </summary>
    /// <param name="answerable">Whether a prediction may be answered in this response (Label Studio stores one per task
    /// only when the call carries a single task).</param>
    public async Task<PredictionResult?> OnTaskOpenedAsync(LabelStudioTask task, ImageTarget target, long? project, bool answerable,
        CancellationToken requestAborted)
    {
        var imageUri = AutomaticAnnotator.ImageUri(task, target);
        if (imageUri is null) return null;
        var job = new Job(task, target, project, EncodePriority.OpenedTask, (task.Id, _annotator.ModelVersion));
        if (!_jobs.TryAdd(job.Key, job)) return null;
        Forget();

        var budget = _options.PredictBudget;
        var fits = _annotator.Estimate() is not { } estimate || estimate <= budget;
        if (!answerable || budget <= TimeSpan.Zero || !fits || !_annotator.IsCached(imageUri))
        {
            if (!CanPost(job)) return null;
            job.State = Post;
            if (!_queue.Writer.TryWrite(job)) _jobs.TryRemove(new KeyValuePair<(long, string), Job>(job.Key, job));
            return null;
        }

        var running = RunAsync(job, _stopping.Token);
        _inline.TryAdd(running, true);
        _ = running.ContinueWith(static (t, inline) => ((ConcurrentDictionary<Task, bool>)inline!).TryRemove(t, out _), _inline,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await job.Result.Task.WaitAsync(budget, requestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Too slow for this response (or Label Studio gave up): post it when done.
        }
        catch (Exception)
        {
            return null; // failed: logged and forgotten by RunAsync, so the next opening tries again
        }
        if (job.Result.Task.IsCompletedSuccessfully && Interlocked.CompareExchange(ref job.State, Answered, Running) == Running)
            return job.Result.Task.Result;
        if (!CanPost(job)) return null;
        Interlocked.CompareExchange(ref job.State, Post, Running);
        if (job.Result.Task.IsCompletedSuccessfully) await PostAsync(job, CancellationToken.None).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// Generates and posts one task's automatic masks now, at <see cref="EncodePriority.Automatic"/> (the <c>annotate</c>
    /// command). Skips a task Label Studio already has a prediction of this model version for.
    /// </summary>
    /// <exception cref="LabelStudioApiException">Label Studio could not be asked or written to.</exception>
    public async Task<(AnnotateOutcome Outcome, int Regions)> AnnotateAsync(LabelStudioTask task, ImageTarget target, long? project,
        CancellationToken cancellationToken)
    {
        var key = (task.Id, _annotator.ModelVersion);
        if (_jobs.TryGetValue(key, out var known))
        {
            // Done earlier in this process (answered to Label Studio or posted): it exists; still running: join it.
            var done = known.Result.Task.IsCompleted;
            var joined = await known.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return (done ? AnnotateOutcome.Exists : AnnotateOutcome.Joined, joined.Result.Count);
        }
        if (await HasPredictionAsync(task.Id, cancellationToken).ConfigureAwait(false)) return (AnnotateOutcome.Exists, 0);

        var job = new Job(task, target, project, EncodePriority.Automatic, key) { State = Post };
        if (!_jobs.TryAdd(key, job))
        {
            var other = await _jobs[key].Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return (AnnotateOutcome.Joined, other.Result.Count);
        }
        Forget();
        await RunAsync(job, cancellationToken).ConfigureAwait(false);
        var result = await job.Result.Task.ConfigureAwait(false); // rethrows what generation failed with
        var outcome = job.Outcome ?? throw new LabelStudioApiException("/api/predictions/", 0, $"posting task {task.Id}'s prediction failed; see the log");
        return (outcome, result.Result.Count);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var job in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await RunAsync(job, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Generates the job's prediction; posts it when the job is (or becomes) a posting one. Null on failure.</summary>
    private async Task<PredictionResult?> RunAsync(Job job, CancellationToken cancellationToken)
    {
        PredictionResult result;
        try
        {
            result = await _annotator.PredictAsync(job.Task, job.Target, job.Priority, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _failed);
            Log.AutomaticFailed(_logger, job.Task.Id, e.Message);
            _jobs.TryRemove(new KeyValuePair<(long, string), Job>(job.Key, job));
            job.Result.TrySetException(e);
            return null;
        }
        catch (OperationCanceledException e)
        {
            _jobs.TryRemove(new KeyValuePair<(long, string), Job>(job.Key, job));
            job.Result.TrySetCanceled(e.CancellationToken);
            throw;
        }
        job.Result.TrySetResult(result);
        if (Volatile.Read(ref job.State) == Post) await PostAsync(job, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Posts the job's prediction once, unless Label Studio already has one of this model version.</summary>
    private async Task PostAsync(Job job, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref job.PostStarted, 1) == 1) return;
        var result = job.Result.Task.Result;
        try
        {
            if (await HasPredictionAsync(job.Task.Id, cancellationToken).ConfigureAwait(false))
            {
                Log.AutomaticAlreadyPredicted(_logger, job.Task.Id, result.ModelVersion);
                job.Outcome = AnnotateOutcome.Exists;
                return;
            }
            var created = await _api.CreatePredictionAsync(new PredictionCreateRequest
            {
                Task = job.Task.Id,
                Result = result.Result,
                Score = result.Score,
                ModelVersion = result.ModelVersion,
                Project = job.Project,
            }, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _posted);
            job.Outcome = AnnotateOutcome.Created;
            Log.AutomaticPosted(_logger, job.Task.Id, created.Id, result.Result.Count, result.ModelVersion);
        }
        catch (Exception e) when (e is LabelStudioApiException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // Not posted: forget the task so the next opening (or annotate run) tries again.
            Interlocked.Increment(ref _failed);
            Log.AutomaticFailed(_logger, job.Task.Id, e.Message);
            _jobs.TryRemove(new KeyValuePair<(long, string), Job>(job.Key, job));
        }
    }

    private async Task<bool> HasPredictionAsync(long taskId, CancellationToken cancellationToken)
    {
        var existing = await _api.ListPredictionsAsync(taskId, cancellationToken).ConfigureAwait(false);
        return existing.Any(p => string.Equals(p.ModelVersion, _annotator.ModelVersion, StringComparison.Ordinal));
    }

    private bool CanPost(Job job)
    {
        if (_api.IsConfigured) return true;
        Log.AutomaticCannotPost(_logger, job.Task.Id);
        _jobs.TryRemove(new KeyValuePair<(long, string), Job>(job.Key, job));
        return false;
    }

    /// <summary>Bounds the registry: finished jobs are forgotten first (Label Studio no longer asks for tasks that have a prediction).</summary>
    private void Forget()
    {
        if (_jobs.Count <= MaxRemembered) return;
        foreach (var (key, job) in _jobs)
        {
            if (job.Result.Task.IsCompleted) _jobs.TryRemove(key, out _);
        }
    }

    /// <summary>Stops the queue's worker and the generations started by task openings, and waits for them (within the
    /// host's SHUTDOWN_TIMEOUT): they hold embeddings and decoder runs that must end before the sessions are disposed.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_inline.Keys).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Generations end with their cancelled runs; the host's shutdown timeout is up.
        }
    }

    public override void Dispose()
    {
        _queue.Writer.TryComplete();
        _stopping.Dispose();
        base.Dispose();
    }

    /// <summary>One task's automatic prediction in flight.</summary>
    private sealed class Job(LabelStudioTask task, ImageTarget target, long? project, EncodePriority priority, (long, string) key)
    {
        public LabelStudioTask Task { get; } = task;

        public ImageTarget Target { get; } = target;

        public long? Project { get; } = project;

        public EncodePriority Priority { get; } = priority;

        public (long TaskId, string ModelVersion) Key { get; } = key;

        public TaskCompletionSource<PredictionResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary><see cref="Running"/> (a response may still take it), <see cref="Answered"/> or <see cref="Post"/>.</summary>
        public int State;

        public int PostStarted;

        /// <summary>Set once posting ended: created, or already in Label Studio.</summary>
        public AnnotateOutcome? Outcome { get; set; }
    }
}
