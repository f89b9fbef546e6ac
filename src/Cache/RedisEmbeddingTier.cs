using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using Sam2Interactive.Encoder;
using StackExchange.Redis;

namespace Sam2Interactive.Cache;

/// <summary>
/// Tier 2 of the embedding cache on Redis (standalone or Cluster). One multiplexer per instance; every call runs through one
/// Polly pipeline (retry once on a connection error → circuit breaker → per-call timeout) and degrades to miss / dropped
/// write / <see cref="LockOutcome.Unavailable"/> instead of throwing.
/// </summary>
/// <remarks>
/// Keys (an entry's keys share the hash tag <c>{model:hash}</c>, so they live in one Cluster slot):
/// embedding <c>{prefix}{model:hash}:parts</c> (a hash: fields "0", "1", … hold the envelope cut into 1 MiB parts),
/// lock <c>{prefix}{model:hash}:lock</c>,
/// URI map <c>{prefix}uri:{model}:{sha256(uriKey)}</c>; completion channel <c>{prefix}done:{model}</c> carrying the hash.
/// </remarks>
internal sealed class RedisEmbeddingTier : IDistributedEmbeddingTier, IDisposable
{
    // Compare-and-act on the owner token, so a lease whose lock expired (and was taken by another replica) cannot extend or
    // delete the new owner's lock.
    // Renewal only lengthens: the periodic LOCK_TTL renewal must not cut short the longer expiry set to cover a slow write.
    private const string RenewScript =
        "if redis.call('get', KEYS[1]) == ARGV[1] then " +
        "if redis.call('pttl', KEYS[1]) < tonumber(ARGV[2]) then redis.call('pexpire', KEYS[1], ARGV[2]) end return 1 " +
        "else return 0 end";
    private const string ReleaseScript =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    /// <summary>Upper bound of a stored value (float32 tensors plus metadata), used to size the GET timeout.</summary>
    private const int MaxValueBytes = ImageEmbedding.TotalLength * sizeof(float) + 1024;

    /// <summary>
    /// Bytes per hash field of a stored value. Why not one string: redis-server 7.0 takes about ten times longer to send or
    /// receive a value of 8 MiB (a jemalloc allocation large enough to be mapped fresh, and page faults cost much on a VM)
    /// than the same bytes as 1 MiB parts: 45 ms against 5 ms per read on loopback, with a raw socket as with
    /// StackExchange.Redis (`redis-hit` benchmark, docs/benchmarks.md), and its event loop is blocked meanwhile; 4 MiB and
    /// less is fast. 64 bytes short of 1 MiB so that a part and Redis's string header fit jemalloc's 1 MiB size class: whole
    /// 1 MiB parts land in the 1.25 MiB class (MEMORY USAGE of a float16 embedding 11,797,064 B, against 9,437,776 B
    /// now and 10,485,808 B as one string). Also within ArrayPool's 1 MiB bucket, so the parts' leases are reused.
    /// </summary>
    internal const int PartBytes = (1 << 20) - 64;

    private const int MaxParts = (MaxValueBytes + PartBytes - 1) / PartBytes;

    private static readonly ResiliencePropertyKey<TimeSpan> s_timeoutKey = new("sam2.redis.timeout");

    private readonly RedisCacheOptions _options;
    private readonly string _modelId;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly EmbeddingPool? _pool;
    private readonly Task<ConnectionMultiplexer> _connecting;
    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _breaker = new();
    private readonly CancellationTokenSource _disposed = new();
    private readonly RedisChannel _doneChannel;
    private readonly Action<RedisChannel, RedisValue> _onDone;
    private readonly ConcurrentDictionary<TaskCompletionSource, string> _waiters = new();

    /// <summary>Encode locks this process holds, by content hash: <see cref="PutAsync"/> stretches the lock over its write.</summary>
    private readonly ConcurrentDictionary<string, EncodeLease> _leases = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _subscribeGate = new(1, 1);
    private readonly TimeSpan _smallTimeout;
    private readonly TimeSpan _getTimeout;
    private volatile bool _subscribed;
    private long _openUntilTimestamp;
    private long _hits;
    private long _misses;
    private long _corrupt;
    private long _errors;
    private long _rejected;

    /// <param name="options">Must have <see cref="RedisCacheOptions.Redis"/> set; its configuration is cloned, not changed.</param>
    /// <param name="modelId">Identity of the encoder file (no braces: it is part of the Cluster hash tag).</param>
    /// <param name="pool">Where embeddings read from Redis get their buffers; <see cref="EmbeddingPool.Shared"/> when null.</param>
    public RedisEmbeddingTier(RedisCacheOptions options, string modelId, ILogger logger, TimeProvider? timeProvider = null, EmbeddingPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Redis is null) throw new ArgumentException("REDIS_URL is not set; use NoDistributedEmbeddingTier.", nameof(options));
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        if (modelId.AsSpan().IndexOfAny('{', '}') >= 0) throw new ArgumentException("model id must not contain braces", nameof(modelId));

        _options = options;
        _modelId = modelId;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _pool = pool;
        _smallTimeout = options.OperationTimeout;
        _getTimeout = TimeoutFor(MaxValueBytes);
        _doneChannel = RedisChannel.Literal($"{options.Prefix}done:{modelId}");
        _onDone = OnDone;
        _pipeline = BuildPipeline();

        var config = options.Redis.Clone();
        // A Redis absent at start must not fail the host: connect in the background and keep reconnecting.
        config.AbortOnConnectFail = false;
        // Fail calls at once while disconnected instead of queueing them behind a reconnect: a click must not wait.
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ConnectTimeout = (int)Math.Clamp(options.OperationTimeout.TotalMilliseconds, 100, 30_000);
        // Our pipeline times calls out first; this only bounds how long an abandoned 16 MiB call may hold the socket.
        config.AsyncTimeout = config.SyncTimeout = (int)Math.Min(int.MaxValue, _getTimeout.TotalMilliseconds * 2);
        config.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        config.ClientName ??= "sam2i";
        _connecting = ConnectAsync(config);
    }

    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Lookups that returned null for any reason (absent, corrupt, error, breaker open).</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Values rejected by validation (and deleted).</summary>
    public long Corrupt => Interlocked.Read(ref _corrupt);

    /// <summary>Calls that failed: connection errors, timeouts, server errors.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Calls short-circuited by the open circuit breaker.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public DistributedTierState State
    {
        get
        {
            if (_disposed.IsCancellationRequested) return DistributedTierState.Degraded;
            var connected = _connecting.IsCompletedSuccessfully && _connecting.Result.IsConnected;
            return connected && _breaker.CircuitState == CircuitState.Closed ? DistributedTierState.Connected : DistributedTierState.Degraded;
        }
    }

    /// <remarks>Not <c>:emb</c>: that name held the envelope as one string until 2026-12; such values are never read (they
    /// would be the wrong type) and expire with their TTL.</remarks>
    internal string EmbeddingKey(string contentHash) => $"{_options.Prefix}{{{_modelId}:{contentHash}}}:parts";

    internal string LockKey(string contentHash) => $"{_options.Prefix}{{{_modelId}:{contentHash}}}:lock";

    internal string UriKey(string uriKey) =>
        $"{_options.Prefix}uri:{_modelId}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(uriKey)))}";

    internal RedisChannel DoneChannel => _doneChannel;

    public async Task<ImageEmbedding?> TryGetAsync(string contentHash, CancellationToken cancellationToken)
    {
        CheckHash(contentHash);
        var key = (RedisKey)EmbeddingKey(contentHash);
        var (ok, value) = await ExecuteAsync("get", _getTimeout, key, static (db, k) => ReadValueAsync(db, k), cancellationToken).ConfigureAwait(false);
        if (!ok || value is null)
        {
            Interlocked.Increment(ref _misses);
            return null;
        }

        ImageEmbedding? embedding;
        string? rejection;
        using (value)
        {
            embedding = EmbeddingEnvelope.TryDecode(value.WrittenMemory, _modelId, out rejection, _pool);
        }
        if (embedding is not null)
        {
            Interlocked.Increment(ref _hits);
            return embedding;
        }

        Interlocked.Increment(ref _corrupt);
        Interlocked.Increment(ref _misses);
        Log.RedisValueRejected(_logger, key.ToString(), rejection);
        await ExecuteAsync("del", _smallTimeout, key, static (db, k) => db.KeyDeleteAsync(k), CancellationToken.None).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// The envelope stored under <paramref name="key"/> (a hash of <see cref="PartBytes"/> parts), read in one MULTI/EXEC so
    /// the parts are of one version of the value; null when the key is absent. The caller disposes the result.
    /// </summary>
    /// <remarks>
    /// Fields past the last part come back null, so <see cref="MaxValueBytes"/> is covered whatever CACHE_DTYPE wrote the
    /// value; a gap (a missing part before a present one) or a longer value fails validation, as it must. Each part arrives
    /// in a lease from <c>ArrayPool&lt;byte&gt;.Shared</c> (StackExchange.Redis has leases for GET and HGET, not for GETRANGE),
    /// so a Redis hit allocates nothing that is not pooled.
    /// </remarks>
    internal static async Task<PooledBytes?> ReadValueAsync(IDatabase db, RedisKey key)
    {
        var transaction = db.CreateTransaction();
        var parts = new Task<Lease<byte>?>[MaxParts];
        for (var i = 0; i < parts.Length; i++) parts[i] = transaction.HashGetLeaseAsync(key, i);
        await transaction.ExecuteAsync().ConfigureAwait(false);
        Lease<byte>?[] leases;
        try
        {
            leases = await Task.WhenAll(parts).ConfigureAwait(false);
        }
        catch
        {
            // Give back the parts that did arrive.
            foreach (var part in parts)
            {
                if (part.IsCompletedSuccessfully) part.Result?.Dispose();
            }
            throw;
        }
        try
        {
            var length = 0;
            foreach (var lease in leases) length += lease?.Length ?? 0;
            if (leases[0] is null) return null;
            var value = new PooledBytes(length);
            foreach (var lease in leases)
            {
                if (lease is null) break;
                lease.Span.CopyTo(value.GetSpan(lease.Length));
                value.Advance(lease.Length);
            }
            return value;
        }
        finally
        {
            foreach (var lease in leases) lease?.Dispose();
        }
    }

    public async Task<long> StoredBytesAsync(string contentHash, CancellationToken cancellationToken)
    {
        CheckHash(contentHash);
        var (ok, length) = await ExecuteAsync("hstrlen", _smallTimeout, (RedisKey)EmbeddingKey(contentHash), static async (db, k) =>
        {
            var batch = db.CreateBatch();
            var parts = Enumerable.Range(0, MaxParts).Select(i => batch.HashStringLengthAsync(k, i)).ToArray();
            batch.Execute();
            return (await Task.WhenAll(parts).ConfigureAwait(false)).Sum();
        }, cancellationToken).ConfigureAwait(false);
        return ok ? length : 0;
    }

    public async Task PutAsync(string contentHash, ImageEmbedding embedding, CancellationToken cancellationToken)
    {
        CheckHash(contentHash);
        ArgumentNullException.ThrowIfNull(embedding);
        cancellationToken.ThrowIfCancellationRequested();
        if (IsShortCircuited)
        {
            // Skip the 8-16 MiB serialization when the call would be refused anyway.
            Interlocked.Increment(ref _rejected);
            return;
        }

        using var payload = EmbeddingEnvelope.Serialize(embedding, _modelId, _options.DType);
        var timeout = TimeoutFor(payload.WrittenCount);
        // The lock must outlive the write: a waiting replica that sees it expire before the value is readable takes over and
        // encodes a second time. On a busy machine the write, or the renewals queued behind it, can outlast LOCK_TTL.
        // Sent ahead of the SET on the same connection, not awaited first: a stalled server then holds both, in order.
        var extending = _leases.TryGetValue(contentHash, out var lease) ? lease.ExtendAsync(_options.LockTtl + timeout) : Task.CompletedTask;
        var state = (Key: (RedisKey)EmbeddingKey(contentHash), Value: payload.WrittenMemory, Ttl: _options.Ttl);
        await ExecuteAsync("set", timeout, state, static (db, s) => WriteValueAsync(db, s.Key, s.Value, s.Ttl), cancellationToken).ConfigureAwait(false);
        await extending.ConfigureAwait(false);
    }

    /// <summary>
    /// Replaces the value under <paramref name="key"/> with <paramref name="value"/> cut into <see cref="PartBytes"/> hash
    /// fields "0", "1", …, and sets its expiry, in one MULTI/EXEC: a reader sees the old value or the new one, never a mix.
    /// </summary>
    internal static async Task<bool> WriteValueAsync(IDatabase db, RedisKey key, ReadOnlyMemory<byte> value, TimeSpan ttl)
    {
        // At least one field: an empty value is still stored (and rejected when read), as a hash cannot be empty.
        var fields = new HashEntry[Math.Max(1, (value.Length + PartBytes - 1) / PartBytes)];
        for (var i = 0; i < fields.Length; i++)
        {
            var start = i * PartBytes;
            fields[i] = new HashEntry(i, value.Slice(start, Math.Min(PartBytes, value.Length - start)));
        }
        var transaction = db.CreateTransaction();
        _ = transaction.KeyDeleteAsync(key);
        _ = transaction.HashSetAsync(key, fields);
        _ = transaction.KeyExpireAsync(key, ttl);
        return await transaction.ExecuteAsync().ConfigureAwait(false);
    }

    public async Task<string?> TryGetContentHashAsync(string uriKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uriKey);
        var key = (RedisKey)UriKey(uriKey);
        var (ok, value) = await ExecuteAsync("uri-get", _smallTimeout, key,
            static (db, k) => db.StringGetAsync(k), cancellationToken).ConfigureAwait(false);
        if (!ok || value.IsNull) return null;
        var hash = (string?)value;
        if (string.IsNullOrEmpty(hash) || hash.Length > 128 || hash.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            Interlocked.Increment(ref _corrupt);
            await ExecuteAsync("del", _smallTimeout, key, static (db, k) => db.KeyDeleteAsync(k), CancellationToken.None).ConfigureAwait(false);
            return null;
        }
        return hash;
    }

    public async Task SetContentHashAsync(string uriKey, string contentHash, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uriKey);
        CheckHash(contentHash);
        var state = (Key: (RedisKey)UriKey(uriKey), Value: (RedisValue)contentHash, Ttl: _options.Ttl);
        await ExecuteAsync("uri-set", _smallTimeout, state,
            static (db, s) => db.StringSetAsync(s.Key, s.Value, s.Ttl, When.Always), cancellationToken).ConfigureAwait(false);
    }

    public async Task<(LockOutcome Outcome, IAsyncDisposable? Lease)> TryAcquireEncodeLockAsync(string contentHash, CancellationToken cancellationToken)
    {
        CheckHash(contentHash);
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var state = (Key: (RedisKey)LockKey(contentHash), Token: (RedisValue)token, Ttl: _options.LockTtl);
        var (ok, acquired) = await ExecuteAsync("lock", _smallTimeout, state,
            static (db, s) => db.StringSetAsync(s.Key, s.Token, s.Ttl, When.NotExists), cancellationToken).ConfigureAwait(false);
        if (!ok) return (LockOutcome.Unavailable, null);
        if (!acquired) return (LockOutcome.HeldByOther, null);
        return (LockOutcome.Acquired, new EncodeLease(this, contentHash, state.Key, token));
    }

    /// <remarks>Also returns true when the tier becomes unreachable while waiting: the holder could not share its result
    /// anyway, so the caller should compute instead of sitting out the timeout.</remarks>
    public async Task<bool> WaitForLockReleaseAsync(string contentHash, TimeSpan timeout, CancellationToken cancellationToken)
    {
        CheckHash(contentHash);
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        var notice = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters[notice] = contentHash;
        try
        {
            await EnsureSubscribedAsync(cancellationToken).ConfigureAwait(false);
            var key = (RedisKey)LockKey(contentHash);
            while (true)
            {
                // Checked after subscribing, so a release between our caller's failed acquire and the subscription is seen.
                if (notice.Task.IsCompleted) return true;
                var (ok, exists) = await ExecuteAsync("exists", _smallTimeout, key,
                    static (db, k) => db.KeyExistsAsync(k), cancellationToken).ConfigureAwait(false);
                if (!ok || !exists) return true;

                var remaining = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero) return false;
                using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var delay = Task.Delay(remaining < _options.LockPollInterval ? remaining : _options.LockPollInterval, _time, delayCancel.Token);
                await Task.WhenAny(notice.Task, delay).ConfigureAwait(false);
                delayCancel.Cancel();
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            _waiters.TryRemove(notice, out _);
        }
    }

    public void Dispose()
    {
        if (_disposed.IsCancellationRequested) return;
        // Cancels lease renewals without releasing: like a dying process, the locks expire on their own.
        _disposed.Cancel();
        if (_connecting.IsCompletedSuccessfully) _connecting.Result.Dispose();
        else _connecting.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        // _subscribeGate is not disposed: a concurrent waiter may still hold it, and it owns no wait handle.
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions config)
    {
        var mux = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        mux.ConnectionFailed += (_, e) => Log.RedisConnectionFailed(_logger, e.EndPoint?.ToString(), e.FailureType.ToString());
        mux.ConnectionRestored += (_, e) => Log.RedisConnectionRestored(_logger, e.EndPoint?.ToString());
        if (!mux.IsConnected) Log.RedisNotReachableAtStart(_logger, config.ToString(includePassword: false));
        return mux;
    }

    private ResiliencePipeline BuildPipeline() =>
        new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                // One quick retry for a dropped connection. Timeouts are not retried: a click would wait twice.
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is RedisConnectionException or SocketException),
                MaxRetryAttempts = 1,
                BackoffType = DelayBackoffType.Constant,
                Delay = TimeSpan.FromMilliseconds(50),
                UseJitter = true,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = static args => ValueTask.FromResult(IsRedisFailure(args.Outcome.Exception)),
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = _options.BreakDuration,
                StateProvider = _breaker,
                OnOpened = args =>
                {
                    Volatile.Write(ref _openUntilTimestamp,
                        _time.GetTimestamp() + (long)(args.BreakDuration.TotalSeconds * _time.TimestampFrequency));
                    Log.RedisTierDegraded(_logger, args.BreakDuration.TotalSeconds, args.Outcome.Exception?.GetType().Name);
                    return default;
                },
                OnClosed = _ =>
                {
                    Log.RedisTierRecovered(_logger);
                    return default;
                },
            })
            .AddTimeout(new TimeoutStrategyOptions
            {
                TimeoutGenerator = static args => ValueTask.FromResult(args.Context.Properties.GetValue(s_timeoutKey, TimeSpan.FromSeconds(2))),
            })
            .Build();

    private static bool IsRedisFailure(Exception? e) =>
        e is RedisException or TimeoutRejectedException or SocketException or IOException or ObjectDisposedException;

    private bool IsShortCircuited =>
        _breaker.CircuitState is CircuitState.Open or CircuitState.Isolated
        && _time.GetTimestamp() < Volatile.Read(ref _openUntilTimestamp);

    /// <summary>Timeout for a call moving <paramref name="bytes"/>: the small-call timeout plus transfer time at the assumed rate.</summary>
    private TimeSpan TimeoutFor(int bytes) => _options.OperationTimeout + TimeSpan.FromSeconds(bytes / _options.TransferBytesPerSecond);

    /// <summary>
    /// Runs one Redis call through the pipeline. Returns (false, default) on any failure other than cancellation of
    /// <paramref name="cancellationToken"/>, which propagates.
    /// </summary>
    private async Task<(bool Ok, TResult Result)> ExecuteAsync<TState, TResult>(
        string operation, TimeSpan timeout, TState state, Func<IDatabase, TState, Task<TResult>> call, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(operation, cancellationToken);
        context.Properties.Set(s_timeoutKey, timeout);
        try
        {
            var result = await _pipeline.ExecuteAsync(static async (ctx, s) =>
            {
                // SE.Redis calls take no token: WaitAsync lets the timeout (and the caller) abandon a call on a stalled server.
                var mux = await s.Tier._connecting.WaitAsync(ctx.CancellationToken).ConfigureAwait(false);
                return await s.Call(mux.GetDatabase(), s.State).WaitAsync(ctx.CancellationToken).ConfigureAwait(false);
            }, context, (Tier: this, Call: call, State: state)).ConfigureAwait(false);
            return (true, result);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (BrokenCircuitException)
        {
            Interlocked.Increment(ref _rejected);
            return (false, default!);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _errors);
            Log.RedisCallFailed(_logger, e, operation);
            return (false, default!);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task EnsureSubscribedAsync(CancellationToken cancellationToken)
    {
        if (_subscribed || _disposed.IsCancellationRequested) return;
        await _subscribeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_subscribed) return;
            var (ok, _) = await ExecuteAsync("subscribe", _smallTimeout, this, static async (db, tier) =>
            {
                // SE.Redis re-subscribes by itself after a reconnect.
                await db.Multiplexer.GetSubscriber().SubscribeAsync(tier._doneChannel, tier._onDone).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
            _subscribed = ok;
        }
        finally
        {
            _subscribeGate.Release();
        }
    }

    private void OnDone(RedisChannel channel, RedisValue message)
    {
        var hash = (string?)message;
        if (hash is null) return;
        foreach (var (notice, waitingFor) in _waiters)
        {
            if (string.Equals(waitingFor, hash, StringComparison.Ordinal)) notice.TrySetResult();
        }
    }

    private static void CheckHash(string contentHash)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentHash);
        if (contentHash.AsSpan().IndexOfAny('{', '}') >= 0) throw new ArgumentException("content hash must not contain braces", nameof(contentHash));
    }

    /// <summary>Holds the encode lock: renews it every LOCK_TTL/3 while held; on dispose releases it (owner only) and
    /// publishes the completion notice.</summary>
    private sealed class EncodeLease : IAsyncDisposable
    {
        private readonly RedisEmbeddingTier _tier;
        private readonly string _contentHash;
        private readonly RedisKey _key;
        private readonly RedisValue _token;
        private readonly CancellationTokenSource _stop;
        private readonly Task _renewal;
        private int _disposed;

        public EncodeLease(RedisEmbeddingTier tier, string contentHash, RedisKey key, string token)
        {
            _tier = tier;
            _contentHash = contentHash;
            _key = key;
            _token = token;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(tier._disposed.Token);
            tier._leases[contentHash] = this;
            _renewal = RenewAsync();
        }

        /// <summary>Sets the lock's expiry to at least <paramref name="ttl"/> from now, if this lease still owns it.</summary>
        public async Task ExtendAsync(TimeSpan ttl)
        {
            var state = (Key: _key, Args: new[] { _token, (RedisValue)(long)ttl.TotalMilliseconds });
            var (ok, extended) = await _tier.ExecuteAsync("lock-extend", _tier._smallTimeout, state,
                static async (db, s) => (long)await db.ScriptEvaluateAsync(RenewScript, [s.Key], s.Args).ConfigureAwait(false),
                CancellationToken.None).ConfigureAwait(false);
            if (ok && extended == 0) Log.EncodeLockLost(_tier._logger, _key.ToString());
            else if (ok) Log.EncodeLockExtended(_tier._logger, _key.ToString(), ttl.TotalSeconds);
        }

        private async Task RenewAsync()
        {
            var ttl = _tier._options.LockTtl;
            using var timer = new PeriodicTimer(ttl / 3, _tier._time);
            var state = (Key: _key, Args: new[] { _token, (RedisValue)(long)ttl.TotalMilliseconds });
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    var (ok, renewed) = await _tier.ExecuteAsync("lock-renew", _tier._smallTimeout, state,
                        static async (db, s) => (long)await db.ScriptEvaluateAsync(RenewScript, [s.Key], s.Args).ConfigureAwait(false),
                        _stop.Token).ConfigureAwait(false);
                    if (ok && renewed == 0)
                    {
                        Log.EncodeLockLost(_tier._logger, _key.ToString());
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Released or the tier is shutting down.
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _tier._leases.TryRemove(new KeyValuePair<string, EncodeLease>(_contentHash, this));
            await _stop.CancelAsync().ConfigureAwait(false);
            await _renewal.ConfigureAwait(false);
            _stop.Dispose();
            if (_tier._disposed.IsCancellationRequested) return;

            var state = (Key: _key, Token: _token);
            var (ok, deleted) = await _tier.ExecuteAsync("lock-release", _tier._smallTimeout, state,
                static async (db, s) => (long)await db.ScriptEvaluateAsync(ReleaseScript, [s.Key], [s.Token]).ConfigureAwait(false),
                CancellationToken.None).ConfigureAwait(false);
            // Only the owner announces: if the lock had expired and moved on, its new owner will.
            if (!ok || deleted != 1) return;
            var notice = (Channel: _tier._doneChannel, Hash: (RedisValue)_contentHash);
            await _tier.ExecuteAsync("lock-publish", _tier._smallTimeout, notice,
                static (db, s) => db.PublishAsync(s.Channel, s.Hash), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
