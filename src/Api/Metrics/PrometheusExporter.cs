using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.Metrics;

/// <summary>
/// Exports this host's System.Diagnostics.Metrics instruments as Prometheus text (format 0.0.4) at /metrics.
/// </summary>
/// <remarks>
/// Only the stages' meters (<c>Sam2Interactive.*</c>) created by this host's <see cref="IMeterFactory"/> are read, so
/// several hosts in one process (the multi-replica tests) each report their own counts. Instruments keep their names as Prometheus names; same-named
/// instruments of different stages (<c>sam2_stage_seconds</c>) are merged into one family. Counters are exported as
/// counters, up-down counters and observable gauges as gauges, histograms with the bucket boundaries their advice gives
/// (else <see cref="StageHistogram.Buckets"/>). Labels keep the order the instrument passes its tags in.
/// Hand-written rather than OpenTelemetry's exporter (prerelease, renames counters and adds scope labels) or
/// prometheus-net's adapter (its own buckets and registries): the names, labels and buckets are an interface.
/// </remarks>
internal sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly IMeterFactory _scope;
    private readonly ConcurrentDictionary<string, Family> _families = new(StringComparer.Ordinal);

    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _scope = meterFactory;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // This host's stage meters only: ASP.NET Core's own meters (kestrel.*, http.server.*) share the factory.
            if (!ReferenceEquals(instrument.Meter.Scope, _scope) || !instrument.Meter.Name.StartsWith("Sam2Interactive.", StringComparison.Ordinal)) return;
            var family = _families.GetOrAdd(instrument.Name, static (_, i) => new Family(i), instrument);
            listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<long>(static (i, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (i, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (i, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Writes every family in Prometheus text format.</summary>
    public string Collect()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder(4096);
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal)) family.Write(text);
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private enum Kind
    {
        Counter,
        Gauge,
        Histogram,
    }

    /// <summary>One metric name: its kind, help text and a series per label set.</summary>
    private sealed class Family
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly double[] _bounds;

        public Family(Instrument instrument)
        {
            Name = instrument.Name;
            Help = instrument.Description ?? instrument.Name;
            var type = instrument.GetType();
            var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            KindOf = generic == typeof(Counter<>) || generic == typeof(ObservableCounter<>) ? Kind.Counter
                : generic == typeof(Histogram<>) ? Kind.Histogram
                : Kind.Gauge;
            _bounds = [.. (instrument as Instrument<double>)?.Advice?.HistogramBucketBoundaries ?? StageHistogram.Buckets];
            IsObservable = instrument.IsObservable;
        }

        public string Name { get; }

        public string Help { get; }

        private Kind KindOf { get; }

        private bool IsObservable { get; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _series.GetOrAdd(Labels(tags), static (_, bounds) => new Series(bounds.Length), _bounds);
            switch (KindOf)
            {
                case Kind.Histogram:
                    series.Observe(value, _bounds);
                    break;
                case Kind.Counter when !IsObservable:
                    series.Add(value);
                    break;
                default:
                    series.Set(value);
                    break;
            }
        }

        public void Write(StringBuilder text)
        {
            var type = KindOf switch { Kind.Counter => "counter", Kind.Histogram => "histogram", _ => "gauge" };
            text.Append("# HELP ").Append(Name).Append(' ').Append(Help).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(type).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (KindOf != Kind.Histogram)
                {
                    Sample(text, Name, labels, null, series.Value);
                    continue;
                }
                var (counts, sum, count) = series.Snapshot();
                long cumulative = 0;
                for (var b = 0; b < _bounds.Length; b++)
                {
                    cumulative += counts[b];
                    Sample(text, Name + "_bucket", labels, Number(_bounds[b]), cumulative);
                }
                Sample(text, Name + "_bucket", labels, "+Inf", count);
                Sample(text, Name + "_sum", labels, null, sum);
                Sample(text, Name + "_count", labels, null, count);
            }
        }

        private static void Sample(StringBuilder text, string name, string labels, string? le, double value)
        {
            text.Append(name);
            if (labels.Length > 0 || le is not null)
            {
                text.Append('{').Append(labels);
                if (le is not null) text.Append(labels.Length > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
                text.Append('}');
            }
            text.Append(' ').Append(Number(value)).Append('\n');
        }

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.IsEmpty) return "";
            var text = new StringBuilder();
            foreach (var (key, value) in tags)
            {
                if (text.Length > 0) text.Append(',');
                text.Append(key).Append("=\"");
                foreach (var c in Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")
                {
                    text.Append(c switch { '\\' => "\\\\", '"' => "\\\"", '\n' => "\\n", _ => c.ToString() });
                }
                text.Append('"');
            }
            return text.ToString();
        }

        private static string Number(double value) =>
            double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>One label set's value: a sum (counter), the last value (gauge) or bucket counts (histogram).</summary>
    private sealed class Series(int buckets)
    {
        private readonly long[] _counts = new long[buckets];
        private double _value;
        private double _sum;
        private long _count;

        public double Value
        {
            get { lock (_counts) return _value; }
        }

        public void Add(double delta)
        {
            lock (_counts) _value += delta;
        }

        public void Set(double value)
        {
            lock (_counts) _value = value;
        }

        public void Observe(double value, double[] bounds)
        {
            var bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket]) bucket++;
            lock (_counts)
            {
                if (bucket < _counts.Length) _counts[bucket]++;
                _sum += value;
                _count++;
            }
        }

        public (long[] Counts, double Sum, long Count) Snapshot()
        {
            lock (_counts) return ((long[])_counts.Clone(), _sum, _count);
        }
    }
}
