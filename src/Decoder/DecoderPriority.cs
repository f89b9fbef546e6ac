namespace Sam2Interactive.Decoder;

/// <summary>
/// Interactive clicks before automatic work on the decoder (the encoder's equivalent is the Cache stage's
/// <c>EncoderSlots</c>). A click marks an interactive section (<see cref="EnterInteractive"/>, taken by
/// <see cref="Sam2Decoder.Predict"/> and <see cref="Sam2Decoder.PredictMany"/>, and by callers around their whole click).
/// Background work takes a <see cref="Background"/> lease per decoder run: at most <c>WORKERS</c> at once, and only while
/// no interactive section is open. When a click arrives, the running background leases are preempted: their token is
/// cancelled, which terminates their session runs (ORT <c>RunOptions.Terminate</c>) so the click gets the cores; the
/// background work runs them again once the clicks are done. Between decoder runs, background post-processing waits in
/// <see cref="WhenInteractiveIdleAsync"/>. Thread-safe.
/// </summary>
public sealed class DecoderPriority : IDisposable
{
    private readonly object _gate = new();
    private readonly SemaphoreSlim _slots;
    private int _interactive;
    private int _running;
    private long _preemptions;
    private CancellationTokenSource _preempt = new();
    private TaskCompletionSource _idle = Completed();

    /// <param name="backgroundSlots">Background decoder runs at once (WORKERS).</param>
    public DecoderPriority(int backgroundSlots)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(backgroundSlots);
        _slots = new SemaphoreSlim(backgroundSlots, backgroundSlots);
    }

    /// <summary>Background runs preempted by clicks since start.</summary>
    public long Preemptions => Interlocked.Read(ref _preemptions);

    /// <summary>Whether an interactive section is open now.</summary>
    public bool InteractiveActive => Volatile.Read(ref _interactive) > 0;

    /// <summary>Opens an interactive section (nestable); dispose the result to close it. Never waits.</summary>
    public Interactive EnterInteractive()
    {
        CancellationTokenSource? preempted = null;
        lock (_gate)
        {
            if (_interactive++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_running > 0)
                {
                    preempted = _preempt;
                    _preempt = new CancellationTokenSource();
                }
            }
        }
        if (preempted is not null)
        {
            Interlocked.Increment(ref _preemptions);
            // Not disposed: preempted leases may still read its token, and a source without a timer holds nothing to free.
            preempted.Cancel();
        }
        return new Interactive(this);
    }

    /// <summary>
    /// Waits for a background slot and for no interactive section, then returns a lease for one decoder run. Its
    /// <see cref="Background.Token"/> is cancelled when a click preempts it.
    /// </summary>
    public async ValueTask<Background> EnterBackgroundAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                Task idle;
                lock (_gate)
                {
                    if (_interactive == 0)
                    {
                        _running++;
                        return new Background(this, _preempt.Token);
                    }
                    idle = _idle.Task;
                }
                await idle.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>Completes when no interactive section is open (at once if none is).</summary>
    public Task WhenInteractiveIdleAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _interactive == 0 ? Task.CompletedTask : _idle.Task.WaitAsync(cancellationToken);
        }
    }

    private void ExitInteractive()
    {
        TaskCompletionSource? idle = null;
        lock (_gate)
        {
            if (--_interactive == 0) idle = _idle;
        }
        idle?.TrySetResult();
    }

    private void ExitBackground()
    {
        lock (_gate) _running--;
        _slots.Release();
    }

    public void Dispose()
    {
        _slots.Dispose();
        lock (_gate) _preempt.Dispose();
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    /// <summary>An open interactive section; dispose exactly once.</summary>
    public readonly struct Interactive(DecoderPriority owner) : IDisposable
    {
        public void Dispose() => owner?.ExitInteractive();
    }

    /// <summary>A background decoder run's lease; dispose exactly once.</summary>
    public sealed class Background : IDisposable
    {
        private DecoderPriority? _owner;

        internal Background(DecoderPriority owner, CancellationToken token)
        {
            _owner = owner;
            Token = token;
        }

        /// <summary>Cancelled when a click preempts this run.</summary>
        public CancellationToken Token { get; }

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.ExitBackground();
    }
}
