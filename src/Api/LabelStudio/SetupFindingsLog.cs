using System.Collections.Concurrent;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// Logs <see cref="LabelConfigFindings"/> for the configurations Label Studio sends to <c>POST /setup</c>, once per
/// distinct configuration (Label Studio calls /setup before every batch prediction and on every backend list). Thread-safe.
/// </summary>
internal sealed class SetupFindingsLog(ILogger<SetupFindingsLog> logger)
{
    /// <summary>Distinct configurations remembered; past this the set is cleared (configurations change rarely).</summary>
    private const int Capacity = 256;

    private readonly ConcurrentDictionary<string, bool> _seen = new(StringComparer.Ordinal);

    /// <summary>Analyses and logs <paramref name="labelConfig"/> unless it was logged before; returns whether it logged.</summary>
    public bool Report(string? project, string labelConfig)
    {
        if (_seen.ContainsKey(labelConfig)) return false;
        if (_seen.Count >= Capacity) _seen.Clear();
        if (!_seen.TryAdd(labelConfig, true)) return false;
        var result = LabelConfigFindings.Analyze(labelConfig);
        project ??= "?";
        foreach (var f in result.Findings)
        {
            switch (f.Level)
            {
                case FindingLevel.Fail:
                    Log.ConfigFindingFailed(logger, project, f.Check, f.Detail, f.Fix ?? "");
                    break;
                case FindingLevel.Warn:
                    Log.ConfigFindingWarning(logger, project, f.Check, f.Detail, f.Fix ?? "");
                    break;
            }
        }
        if (!result.Findings.Any(f => f.Level != FindingLevel.Pass)) Log.ConfigFindingsPassed(logger, project, result.Findings.Count);
        else if (result.CorrectedConfig is { } corrected) Log.ConfigCorrected(logger, project, corrected);
        return true;
    }
}
