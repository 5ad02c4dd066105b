// Compares an adapter with its uninterrupted twin: same header and byte-identical float payloads
// (training on CPU is bit-reproducible, across processes and across kill/resume).
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace OnnxLora.Worker.Tests;

public static class AdapterCompare
{
    public static void AssertTwin(byte[] twin, byte[] actual, string what)
    {
        float diff = MaxAbsDiff(twin, actual);
        Assert.True(float.IsFinite(diff), $"{what}: adapter has non-finite values");
        Assert.True(twin.AsSpan().SequenceEqual(actual), $"{what}: adapter differs from its uninterrupted twin by {diff}");
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
