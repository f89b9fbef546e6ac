using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Cache;

/// <summary>
/// Cache log messages; EventIds 4000-4999. Operators alert on 4004 (degraded) and 4005 (recovered): never renumber, rename
/// or reuse an id (the method name is the EventId's name in their telemetry).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Warning, "Redis embedding {Key} rejected ({Reason}); deleting it so it is recomputed")]
    public static partial void RedisValueRejected(ILogger logger, string key, string? reason);

    [LoggerMessage(4002, LogLevel.Warning, "Redis connection to {Endpoint} failed: {Failure}")]
    public static partial void RedisConnectionFailed(ILogger logger, string? endpoint, string failure);

    [LoggerMessage(4003, LogLevel.Information, "Redis connection to {Endpoint} restored")]
    public static partial void RedisConnectionRestored(ILogger logger, string? endpoint);

    [LoggerMessage(4004, LogLevel.Warning, "Redis tier degraded: circuit open for {Seconds} s after {Failure}; clicks run on tier 1 and the encoder")]
    public static partial void RedisTierDegraded(ILogger logger, double seconds, string? failure);

    [LoggerMessage(4005, LogLevel.Information, "Redis tier connected again: circuit closed")]
    public static partial void RedisTierRecovered(ILogger logger);

    [LoggerMessage(4006, LogLevel.Warning, "Redis at {Config} is not reachable yet; running on tier 1 until it is")]
    public static partial void RedisNotReachableAtStart(ILogger logger, string config);

    [LoggerMessage(4007, LogLevel.Debug, "Redis {Operation} failed")]
    public static partial void RedisCallFailed(ILogger logger, Exception exception, string operation);

    [LoggerMessage(4008, LogLevel.Warning, "Encode lock {Key} was lost (expired and taken over); stopped renewing")]
    public static partial void EncodeLockLost(ILogger logger, string key);

    [LoggerMessage(4009, LogLevel.Debug, "Encode lock {Key} extended to {Seconds} s to cover the embedding write")]
    public static partial void EncodeLockExtended(ILogger logger, string key, double seconds);

    // Next free id: 4010
}
