namespace Sam2Interactive.Cache;

/// <summary>
/// The encoder slots (ENCODER_CONCURRENCY): a semaphore whose waiters are served by priority, then arrival. A waiter's priority can be raised while it waits, so a
/// click that joins a queued prefetch encode of the same image pulls it forward.
/// </summary>
internal sealed class EncoderSlots(int slots)
{
    private readonly object _gate = new();
    private readonly List<Waiter> _waiting = [];
    private int _free = slots;
    private long _sequence;

    /// <summary>A queued request for a slot.</summary>
    internal sealed class Waiter(EncodePriority priority, long sequence)
    {
        public int Priority = (int)priority; // written through RaiseTo (Interlocked), read under the slots lock
        public readonly long Sequence = sequence;
        public readonly TaskCompletionSource Granted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Raises (never lowers) this waiter's priority.</summary>
        public void Promote(EncodePriority priority) => RaiseTo(ref Priority, priority);
    }

    /// <summary>Queues for a slot. Await <see cref="Waiter.Granted"/>; call <see cref="Release"/> when done.</summary>
    public Waiter Enqueue(EncodePriority priority)
    {
        lock (_gate)
        {
            var waiter = new Waiter(priority, _sequence++);
            if (_free > 0)
            {
                _free--;
                waiter.Granted.SetResult();
            }
            else
            {
                _waiting.Add(waiter);
            }
            return waiter;
        }
    }

    public void Release()
    {
        Waiter? next = null;
        lock (_gate)
        {
            foreach (var w in _waiting)
            {
                if (next is null || w.Priority < next.Priority || (w.Priority == next.Priority && w.Sequence < next.Sequence)) next = w;
            }
            if (next is null) _free++;
            else _waiting.Remove(next);
        }
        next?.Granted.SetResult();
    }

    /// <summary>Lowers <paramref name="field"/> (a priority as int) to <paramref name="priority"/> if that is higher priority; lock-free.</summary>
    public static void RaiseTo(ref int field, EncodePriority priority)
    {
        int current;
        while ((int)priority < (current = Volatile.Read(ref field)) && Interlocked.CompareExchange(ref field, (int)priority, current) != current)
        {
        }
    }

    /// <summary>Waiters queued now.</summary>
    public int Queued
    {
        get { lock (_gate) return _waiting.Count; }
    }
}
