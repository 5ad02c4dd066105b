// Process-wide policy for the C heap that ONNX Runtime allocates from (its CPU arena grows by malloc'd regions).
// glibc raises its mmap threshold each time a large mmap'd block is freed, so later large buffers come from the
// brk heap, which fragments and never shrinks: a QLoRA step at the Llama-3.2-1B shape grew 80 MB of anonymous
// memory over its first steps that way. A fixed threshold keeps large buffers in their own mappings. It does not
// change ORT's arena or any result; on other C libraries and systems it does nothing.
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Runtime;

public static partial class NativeHeap
{
    /// <summary>Allocations of at least this many bytes get their own mapping (glibc's initial default, kept fixed).</summary>
    public const int MmapThresholdBytes = 128 * 1024;

    private const int MallocMmapThreshold = -3; // M_MMAP_THRESHOLD in glibc's malloc.h

    private static int s_state; // 0: not tried, 1: applied, 2: not available

    /// <summary>
    /// Fixes glibc's mmap threshold at <see cref="MmapThresholdBytes"/> once per process (later calls return the first
    /// answer). True when glibc took it; false off Linux, on a C library without mallopt, or when it refused.
    /// </summary>
    public static bool FixMmapThreshold()
    {
        if (Volatile.Read(ref s_state) is int known and not 0)
        {
            return known == 1;
        }
        bool ok = false;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                ok = Mallopt(MallocMmapThreshold, MmapThresholdBytes) == 1;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
            }
        }
        Volatile.Write(ref s_state, ok ? 1 : 2);
        return ok;
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);
}
