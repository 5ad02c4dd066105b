// NativeHeap fixes glibc's mmap threshold once per process: glibc (what CI and the Debian images run) takes it,
// and later calls give the first answer without calling mallopt again.
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Onnx.Tests.Runtime;

public sealed class NativeHeapTests
{
    [Fact]
    public void GlibcTakesTheFixedMmapThresholdAndLaterCallsAgree()
    {
        bool first = NativeHeap.FixMmapThreshold();
        Assert.Equal(OperatingSystem.IsLinux(), first);
        Assert.Equal(first, NativeHeap.FixMmapThreshold());
    }
}
