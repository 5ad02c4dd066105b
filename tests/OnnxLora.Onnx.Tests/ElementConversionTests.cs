// float32 → bf16/fp16 narrowing and int32 → int64 widening against bit patterns worked out by
// hand: bf16 rounds to nearest, ties to even (torch's rule), overflows to infinity, and keeps
// NaN a quiet NaN (never infinity). Expected values are literals, not computed by the code under test.
using System.Runtime.InteropServices;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Tests;

public sealed class ElementConversionTests
{
    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)] // 1.0
    [InlineData(0x3F807FFFu, (ushort)0x3F80)] // just below the halfway point: down
    [InlineData(0x3F808000u, (ushort)0x3F80)] // halfway, 0x3F80 is even: down
    [InlineData(0x3F808001u, (ushort)0x3F81)] // just above halfway: up
    [InlineData(0x3F818000u, (ushort)0x3F82)] // halfway, 0x3F81 is odd: up to even
    [InlineData(0x80000000u, (ushort)0x8000)] // -0 keeps its sign
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)] // float max rounds past bf16 max: +inf
    [InlineData(0xFF800000u, (ushort)0xFF80)] // -inf
    [InlineData(0x7F800001u, (ushort)0x7FC0)] // signalling NaN, low payload only: still NaN (plain rounding would give inf)
    [InlineData(0xFFC00000u, (ushort)0xFFC0)] // negative quiet NaN
    public void BFloat16RoundsToNearestEvenAndKeepsNaNQuiet(uint float32Bits, ushort expected)
    {
        Span<byte> dst = stackalloc byte[2];
        ElementConversion.FromFloat32(ElementType.BFloat16, [BitConverter.UInt32BitsToSingle(float32Bits)], dst);
        Assert.Equal(expected, MemoryMarshal.Read<ushort>(dst));
    }

    [Theory]
    [InlineData(1f, (ushort)0x3C00)]
    [InlineData(65504f, (ushort)0x7BFF)] // fp16 max
    [InlineData(65520f, (ushort)0x7C00)] // halfway to 65536, ties to even: +inf
    [InlineData(5.9604645e-8f, (ushort)0x0001)] // 2^-24, smallest subnormal
    public void Float16RoundsToNearestEven(float value, ushort expected)
    {
        Span<byte> dst = stackalloc byte[2];
        ElementConversion.FromFloat32(ElementType.Float16, [value], dst);
        Assert.Equal(expected, MemoryMarshal.Read<ushort>(dst));
    }

    [Fact]
    public void BFloat16RoundTripsThroughFloat32Exactly()
    {
        ushort[] bits = [0x3F80, 0xC020, 0x7F7F, 0x0001, 0x8000, 0x7F80];
        var floats = new float[bits.Length];
        ElementConversion.ToFloat32(ElementType.BFloat16, MemoryMarshal.AsBytes(bits.AsSpan()), floats);
        var back = new ushort[bits.Length];
        ElementConversion.FromFloat32(ElementType.BFloat16, floats, MemoryMarshal.AsBytes(back.AsSpan()));
        Assert.Equal(bits, back);
    }

    [Fact]
    public void Int32WidensToInt64WithSign()
    {
        int[] values = [0, -1, int.MaxValue, int.MinValue];
        var dst = new long[values.Length];
        ElementConversion.ToInt64(ElementType.Int32, MemoryMarshal.AsBytes(values.AsSpan()), dst);
        Assert.Equal([0L, -1L, 2147483647L, -2147483648L], dst);
    }

    [Fact]
    public void UnsupportedTypeNamesIt()
    {
        var e = Assert.Throws<NotSupportedException>(() => ElementConversion.FromFloat32(ElementType.Int8, [1f], new byte[1]));
        Assert.Contains("int8", e.Message);
    }
}
