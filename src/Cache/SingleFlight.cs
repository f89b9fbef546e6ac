using System.Collections.Concurrent;

namespace Sam2Interactive.Cache;

/// <summary>Something waiting for an encoder slot whose priority a joiner can raise.</summary>
internal interface IPromotable
{
    EncodePriority Priority { get; }

    void Promote(EncodePriority priority);
}

/// <summary>
/// One shared run per key: the first caller starts the work, later callers join it and await the same task. A joiner with a
/// higher priority raises the run's priority, and the raise travels to the encoder slot the run waits in (directly, or
/// through the nested run it waits on). The entry leaves the map when the run ends, success or not, so failures are
/// never cached. The work runs without any caller's token: one caller giving up must not fail the others.
/// </summary>
internal sealed class SingleFlight<T>
{
    private readonly ConcurrentDictionary<string, Flight> _running = new(StringComparer.Ordinal);

    /// <summary>Runs in progress now (the store awaits them on shutdown).</summary>
    public IEnumerable<Task> Running => _running.Values.Select(f => (Task)f.Task);

    /// <summary>Joins the run for <paramref name="key"/>, starting it with <paramref name="work"/> when there is none.</summary>
    public Flight Join(string key, EncodePriority priority, Func<Flight, Task<T>> work)
    {
        var mine = new Flight(priority);
        var actual = _running.GetOrAdd(key, mine);
        if (!ReferenceEquals(actual, mine))
        {
            actual.Promote(priority);
            return actual;
        }
        Task<T> task;
        try
        {
            task = work(mine);
        }
        catch (Exception e)
        {
            task = Task.FromException<T>(e);
        }
        task.ContinueWith(
            static (_, state) =>
            {
                var (map, key, flight) = ((ConcurrentDictionary<string, Flight>, string, Flight))state!;
                map.TryRemove(KeyValuePair.Create(key, flight));
            },
            (_running, key, mine), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        mine.Start(task);
        return mine;
    }

    /// <summary>Whether a run for <paramref name="key"/> is in progress.</summary>
    public bool IsRunning(string key) => _running.ContainsKey(key);

    /// <summary>Joins the run for <paramref name="key"/> when one is in progress; starts nothing.</summary>
    public bool TryJoin(string key, EncodePriority priority, out Flight flight)
    {
        if (!_running.TryGetValue(key, out flight!)) return false;
        flight.Promote(priority);
        return true;
    }

    /// <summary>One shared run.</summary>
    internal sealed class Flight : IPromotable
    {
        private readonly TaskCompletionSource<Task<T>> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _priority;

        public Flight(EncodePriority priority) => _priority = (int)priority;

        public EncodePriority Priority => (EncodePriority)Volatile.Read(ref _priority);

        /// <summary>The encoder slot this run waits in, while it waits.</summary>
        public EncoderSlots.Waiter? Waiter { get; set; }

        /// <summary>The nested run this one waits on (resolve → encode), so a promotion reaches its slot.</summary>
        public IPromotable? Inner { get; set; }

        public Task<T> Task => _started.Task.Unwrap();

        public void Start(Task<T> task) => _started.SetResult(task);

        public void Promote(EncodePriority priority)
        {
            EncoderSlots.RaiseTo(ref _priority, priority);
            Waiter?.Promote(priority);
            Inner?.Promote(priority);
        }
    }
}
