// Reads memory figures (VmRSS, VmHWM = peak RSS) from /proc/self/status, in bytes. The kernel separates
// key and value with a tab and pads small values with spaces, so split on any whitespace.
using System.Globalization;

namespace OnnxLora.Training.Runtime;

public static class ProcStatus
{
    public const string PeakRss = "VmHWM:";
    public const string Rss = "VmRSS:";

    /// <summary>The value of <paramref name="key"/> in bytes, or null where /proc is not available.</summary>
    public static long? ReadBytes(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    var fields = line[key.Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(fields[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }
}
