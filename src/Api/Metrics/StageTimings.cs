using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Metrics;

/// <summary>
/// Sums <c>sam2_stage_seconds</c> per stage for the meters of one <see cref="IMeterFactory"/>: how the command line reports
/// the stage times the stages record themselves (their method signatures carry no timings).
/// </summary>
internal sealed class StageTimings : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _seconds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, double> _last = new(StringComparer.Ordinal);

    public StageTimings(IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, scope) && instrument.Name == StageHistogram.Name) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var (key, stage) in tags)
            {
                if (key != "stage" || stage is not string name) continue;
                _seconds.AddOrUpdate(name, value, (_, sum) => sum + value);
                _last[name] = value;
            }
        });
        _listener.Start();
    }

    /// <summary>Milliseconds recorded for <paramref name="stage"/> so far; 0 when none.</summary>
    public double Milliseconds(string stage) => _seconds.TryGetValue(stage, out var s) ? s * 1000 : 0;

    /// <summary>Milliseconds of the latest recording for <paramref name="stage"/>; 0 when none.</summary>
    public double LastMilliseconds(string stage) => _last.TryGetValue(stage, out var s) ? s * 1000 : 0;

    public void Dispose() => _listener.Dispose();
}
