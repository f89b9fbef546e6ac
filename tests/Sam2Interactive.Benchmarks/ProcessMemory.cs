namespace Sam2Interactive.Benchmarks;

/// <summary>
/// Resident memory of this process (or of the process <c>pid</c>: the <c>memory</c> command's server) from
/// /proc/PID/status (Linux): VmRSS now and VmHWM, the peak since start or since <see cref="ResetPeak"/>. Elsewhere every
/// value is null and the drivers print "n/a".
/// </summary>
internal static class ProcessMemory
{
    /// <summary>Resident bytes now (VmRSS), or null off Linux.</summary>
    public static long? Resident(int? pid = null) => Read("VmRSS:", pid);

    /// <summary>Peak resident bytes (VmHWM) since start or the last successful <see cref="ResetPeak"/>, or null off Linux.</summary>
    public static long? Peak(int? pid = null) => Read("VmHWM:", pid);

    /// <summary>
    /// Sets VmHWM back to the current VmRSS (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0), so the next <see cref="Peak"/>
    /// is the peak of what runs in between. False when the kernel does not allow it: <see cref="Peak"/> then keeps the
    /// process's peak since start.
    /// </summary>
    public static bool ResetPeak(int? pid = null)
    {
        try
        {
            File.WriteAllText($"/proc/{Self(pid)}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static string MiB(long? bytes) => bytes is { } b ? $"{b / (1024.0 * 1024.0):F0} MiB" : "n/a";

    private static string Self(int? pid) => pid is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "self";

    private static long? Read(string key, int? pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Self(pid)}/status"))
            {
                if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
                // "VmHWM:	  123456 kB"
                var kb = line.AsSpan(key.Length).Trim();
                kb = kb[..kb.IndexOf(' ')];
                return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
