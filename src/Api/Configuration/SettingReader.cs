using System.Globalization;

namespace Sam2Interactive.Api.Configuration;

/// <summary>
/// A setting has an invalid value. The message names the setting first and says what it must be, so start-up (exit 2)
/// and the command line can print it as it is.
/// </summary>
internal sealed class SettingException(string key, string message) : ArgumentException(message)
{
    /// <summary>The setting's name, e.g. <c>LOCK_WAIT</c>.</summary>
    public string Key { get; } = key;
}

/// <summary>
/// The one reader of the flat, environment-style settings (<c>THREADS=4</c>, <c>LOCK_WAIT=30s</c>). Every number,
/// duration and size is parsed here, with one error format: <c>KEY must be …, not 'value'.</c> Unset and blank values
/// take the default. Reads from <see cref="IConfiguration"/> (environment, command line, test overrides), keys
/// case-insensitive.
/// </summary>
internal sealed class SettingReader(IConfiguration configuration)
{
    private static readonly (string Suffix, double Seconds)[] s_durationUnits =
        [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];

    private static readonly (string Suffix, long Bytes)[] s_sizeUnits =
    [
        ("kib", 1L << 10), ("mib", 1L << 20), ("gib", 1L << 30), ("tib", 1L << 40),
        ("kb", 1000), ("mb", 1000_000), ("gb", 1000_000_000), ("tb", 1000_000_000_000), ("k", 1L << 10), ("m", 1L << 20), ("g", 1L << 30), ("b", 1),
    ];

    /// <summary>Settings from the process environment only (command-line tools).</summary>
    public static SettingReader FromEnvironment(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = new ConfigurationBuilder().AddEnvironmentVariables();
        if (overrides is not null) builder.AddInMemoryCollection(overrides.Where(o => o.Value is not null));
        return new SettingReader(builder.Build());
    }

    /// <summary>The trimmed value, or null when unset or blank.</summary>
    public string? Text(string key) => configuration[key] is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    /// <summary>The first of <paramref name="keys"/> (a name and its aliases) that is set, with the key it came from.</summary>
    public (string Key, string? Value) First(params string[] keys)
    {
        foreach (var key in keys)
        {
            if (Text(key) is { } value) return (key, value);
        }
        return (keys[0], null);
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public long Long(string key, long fallback, long min, long max)
    {
        if (Text(key) is not { } raw) return fallback;
        if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw Invalid(key, $"a whole number from {min} to {max}", raw);
        return value;
    }

    /// <inheritdoc cref="Long"/>
    public int Int(string key, int fallback, int min, int max) => (int)Long(key, fallback, min, max);

    /// <summary>A finite decimal number (invariant culture: <c>1.5</c>) from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public double Double(string key, double fallback, double min, double max)
    {
        if (Text(key) is not { } raw) return fallback;
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < min || value > max)
            throw Invalid(key, $"a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}", raw);
        return value;
    }

    /// <summary>
    /// A duration: plain seconds (<c>30</c>, <c>0.5</c>), a number with a unit (<c>500ms</c>, <c>30s</c>, <c>2m</c>,
    /// <c>12h</c>, <c>7d</c>) or <c>[d.]hh:mm:ss</c>, from <paramref name="min"/> to <paramref name="max"/>.
    /// </summary>
    public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        if (Text(key) is not { } raw) return fallback;
        if (ParseDuration(raw) is not { } value || value < min || value > max)
            throw Invalid(key, $"a duration from {Show(min)} to {Show(max)} (seconds, or like 500ms, 30s, 2m, 12h, 7d)", raw);
        return value;
    }

    /// <summary>
    /// A size in bytes: a plain number counts in <paramref name="plainUnit"/> bytes (1 for <c>MAX_IMAGE_BYTES</c>, MiB
    /// for <c>CACHE_MEMORY_MB</c>); with a unit, <c>KiB</c>/<c>MiB</c>/<c>GiB</c> (or <c>k</c>, <c>m</c>, <c>g</c>) are
    /// powers of 1024 and <c>KB</c>/<c>MB</c>/<c>GB</c> powers of 1000.
    /// </summary>
    public long Size(string key, long fallbackBytes, long minBytes, long maxBytes, long plainUnit = 1)
    {
        if (Text(key) is not { } raw) return fallbackBytes;
        if (ParseSize(raw, plainUnit) is not { } value || value < minBytes || value > maxBytes)
            throw Invalid(key, $"a size from {ShowBytes(minBytes)} to {ShowBytes(maxBytes)} ({(plainUnit == 1 ? "bytes" : $"a number of {ShowBytes(plainUnit)}")}, or like 512MiB, 2GiB)", raw);
        return value;
    }

    /// <summary>One of <paramref name="choices"/> by name (case-insensitive).</summary>
    public T Choice<T>(string key, T fallback, params (string Name, T Value)[] choices)
    {
        if (Text(key) is not { } raw) return fallback;
        foreach (var (name, value) in choices)
        {
            if (string.Equals(name, raw, StringComparison.OrdinalIgnoreCase)) return value;
        }
        throw Invalid(key, string.Join(" or ", choices.Select(c => c.Name)), raw);
    }

    /// <summary><c>true</c>/<c>false</c> (also 1/0, yes/no, on/off).</summary>
    public bool Bool(string key, bool fallback) =>
        Choice(key, fallback, ("true", true), ("false", false), ("1", true), ("0", false), ("yes", true), ("no", false), ("on", true), ("off", false));

    /// <summary>An absolute http:// or https:// URL (a trailing '/' removed), or null when unset; aliases in <paramref name="keys"/>.</summary>
    public Uri? HttpUrl(params string[] keys)
    {
        var (key, raw) = First(keys);
        if (raw is null) return null;
        if (!Uri.TryCreate(raw.TrimEnd('/'), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            throw Invalid(key, "an absolute http:// or https:// URL such as http://label-studio:8080", raw);
        return url;
    }

    /// <summary>A value read by a domain parser (a Redis URL, an allowlist); its <see cref="ArgumentException"/> becomes a
    /// <see cref="SettingException"/> naming the key.</summary>
    public T? Parse<T>(string key, Func<string, T> parse)
    {
        if (Text(key) is not { } raw) return default;
        try
        {
            return parse(raw);
        }
        catch (ArgumentException e) when (e is not SettingException)
        {
            // Parsers word their messages from the setting's name already (and never quote secrets).
            throw new SettingException(key, e.Message.StartsWith(key, StringComparison.Ordinal) ? e.Message : $"{key}: {e.Message}");
        }
    }

    /// <summary>The error for <paramref name="key"/>: <c>KEY must be expectation, not 'raw'.</c></summary>
    public static SettingException Invalid(string key, string expectation, string raw) => new(key, $"{key} must be {expectation}, not '{raw}'.");

    internal static TimeSpan? ParseDuration(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s.Length == 0) return null;
        if (s.Contains(':', StringComparison.Ordinal))
            return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero ? span : null;
        (s, var unit) = SplitUnit(s, s_durationUnits, 1.0);
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)) return null;
        var total = value * unit;
        if (!double.IsFinite(total) || total > TimeSpan.FromDays(3650).TotalSeconds) return null;
        return TimeSpan.FromMilliseconds(Math.Round(total * 1000));
    }

    internal static long? ParseSize(string text, long plainUnit)
    {
        var s = text.Trim().ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal);
        (s, var unit) = SplitUnit(s, s_sizeUnits, plainUnit);
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)) return null;
        var total = value * unit;
        return double.IsFinite(total) && total <= long.MaxValue ? (long)Math.Round(total) : null;
    }

    /// <summary>"30s" → ("30", factor of "s"); a number without a known unit → (text, <paramref name="plain"/>). The unit must
    /// follow a digit, so "ms" is not read as "m" + "s".</summary>
    private static (string Number, T Factor) SplitUnit<T>(string text, (string Suffix, T Factor)[] units, T plain)
    {
        foreach (var (suffix, factor) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal) && text.Length > suffix.Length && char.IsDigit(text[^(suffix.Length + 1)]))
                return (text[..^suffix.Length], factor);
        }
        return (text, plain);
    }

    private static string Show(TimeSpan t) =>
        t.TotalDays >= 1 && t.TotalDays == Math.Floor(t.TotalDays) ? $"{t.TotalDays:0}d"
        : t.TotalHours >= 1 && t.TotalHours == Math.Floor(t.TotalHours) ? $"{t.TotalHours:0}h"
        : t.TotalMinutes >= 1 && t.TotalMinutes == Math.Floor(t.TotalMinutes) ? $"{t.TotalMinutes:0}m"
        : t.TotalSeconds >= 1 || t == TimeSpan.Zero ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###}s")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0}ms");

    private static string ShowBytes(long bytes) =>
        bytes >= 1L << 30 && bytes % (1L << 30) == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes >> 30} GiB")
        : bytes >= 1L << 20 && bytes % (1L << 20) == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes} B");
}
