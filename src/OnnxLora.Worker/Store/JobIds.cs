// Job ids that sort in submission order: 48-bit Unix milliseconds, a 16-bit per-process sequence
// within one millisecond, then 64 random bits (so ids from different workers never collide).
// Guid v7 is only ordered to the millisecond, which made paging order flaky for quick submits.
using System.Security.Cryptography;

namespace OnnxLora.Worker.Store;

public static class JobIds
{
    private static readonly Lock s_lock = new();
    private static long s_lastMs;
    private static int s_sequence;

    public static string Next()
    {
        long ms;
        int seq;
        lock (s_lock)
        {
            ms = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), s_lastMs);
            if (ms == s_lastMs)
            {
                if (++s_sequence > 0xFFFF)
                {
                    ms = ++s_lastMs;
                    s_sequence = 0;
                }
            }
            else
            {
                s_sequence = 0;
            }
            s_lastMs = ms;
            seq = s_sequence;
        }
        Span<byte> random = stackalloc byte[8];
        RandomNumberGenerator.Fill(random);
        return $"{ms:x12}{seq:x4}{Convert.ToHexStringLower(random)}";
    }
}
