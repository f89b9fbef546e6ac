using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Sam2Interactive.Encoder;

/// <summary>
/// Reads flat, environment-style numeric settings (<c>THREADS</c>, <c>WORKERS</c>, …) for every stage. A value outside its
/// range is an <see cref="ArgumentException"/> whose message starts with the setting's name, so start-up stops naming it.
/// </summary>
internal static class Settings
{
    /// <summary>The whole number under <paramref name="key"/>, or <paramref name="fallback"/> when unset.</summary>
    public static long ReadInt64(IConfiguration configuration, string key, long fallback, long min, long max)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw)) return fallback;
        if (!long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new ArgumentException($"{key} must be a whole number from {min} to {max}, not '{raw}'.");
        return value;
    }

    /// <inheritdoc cref="ReadInt64"/>
    public static int ReadInt(IConfiguration configuration, string key, int fallback, int min, int max) =>
        (int)ReadInt64(configuration, key, fallback, min, max);

    /// <summary>A number of seconds (fractions allowed) under <paramref name="key"/>, or <paramref name="fallback"/> when unset.</summary>
    public static TimeSpan ReadSeconds(IConfiguration configuration, string key, TimeSpan fallback, double min, double max)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw)) return fallback;
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds >= min && seconds <= max))
            throw new ArgumentException($"{key} must be seconds from {min} to {max}, not '{raw}'.");
        return TimeSpan.FromSeconds(seconds);
    }
}
