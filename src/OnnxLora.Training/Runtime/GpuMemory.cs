// Device-wide GPU memory in use, read through NVML (libnvidia-ml, shipped with the NVIDIA driver), and a
// sampler that records its peak while work runs. It counts what nvidia-smi's memory.used counts: every
// process's allocations, the CUDA context and ORT's arena reservations. Without a driver (CPU machines)
// Open returns null; nothing else in the product depends on it.
using System.Runtime.InteropServices;

namespace OnnxLora.Training.Runtime;

public sealed partial class GpuMemory : IDisposable
{
    private const string Library = "libnvidia-ml.so.1";

    private readonly IntPtr _device;
    private readonly Timer _timer;
    private long _peak;

    private GpuMemory(IntPtr device, TimeSpan interval)
    {
        _device = device;
        _peak = UsedBytes();
        _timer = new Timer(_ => Sample(), null, interval, interval);
    }

    /// <summary>A sampler of GPU <paramref name="index"/> every <paramref name="interval"/>, or null when NVML is not available.</summary>
    public static GpuMemory? Open(int index = 0, TimeSpan? interval = null)
    {
        try
        {
            if (NvmlInit() != 0 || NvmlDeviceByIndex((uint)index, out var device) != 0)
            {
                return null;
            }
            return new GpuMemory(device, interval ?? TimeSpan.FromMilliseconds(10));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Highest memory.used seen since opening (or the last <see cref="ResetPeak"/>), in bytes.</summary>
    public long PeakBytes
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _peak);
        }
    }

    public void ResetPeak() => Interlocked.Exchange(ref _peak, UsedBytes());

    public long UsedBytes() => NvmlMemoryInfo(_device, out var m) == 0 ? (long)m.Used : 0;

    public void Dispose() => _timer.Dispose();

    private void Sample()
    {
        long used = UsedBytes();
        long seen;
        while (used > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, used, seen) != seen)
        {
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlMemory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    [LibraryImport(Library, EntryPoint = "nvmlInit_v2")]
    private static partial int NvmlInit();

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
    private static partial int NvmlDeviceByIndex(uint index, out IntPtr device);

    [LibraryImport(Library, EntryPoint = "nvmlDeviceGetMemoryInfo")]
    private static partial int NvmlMemoryInfo(IntPtr device, out NvmlMemory memory);
}
