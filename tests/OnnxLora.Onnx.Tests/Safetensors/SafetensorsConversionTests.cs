// F16/BF16/F64 → F32 conversion against bit patterns worked out by hand (IEEE 754 tables),
// and the dtype → ONNX element type mapping. Inputs are raw bytes so the test does not
// reuse the code under test to build them.
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Safetensors;

public sealed class SafetensorsConversionTests
{
    // Every value below is exactly representable in the source type, so conversion is exact.
    private const float ExactTolerance = 0f;

    [Fact]
    public void Float16ConvertsExactlyIncludingMaxAndSubnormals()
    {
        // little-endian u16 bit patterns
        ushort[] bits = [0x3C00, 0xC100, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00, 0xFC00];
        float[] expected = [1f, -2.5f, 65504f, MathF.Pow(2, -24), MathF.Pow(2, -14), -0f, float.PositiveInfinity, float.NegativeInfinity];

        float[] actual = ReadBack(SafetensorsDType.F16, bits.SelectMany(BitConverter.GetBytes).ToArray(), bits.Length);

        AssertClose(expected, actual);
        Assert.True(float.IsNegative(actual[5])); // -0 keeps its sign
    }

    [Fact]
    public void BFloat16ConvertsExactlyIncludingMaxAndSubnormals()
    {
        ushort[] bits = [0x3F80, 0xC020, 0x7F7F, 0x0001, 0x4049, 0x7F80];
        float[] expected =
        [
            1f,
            -2.5f,
            BitConverter.UInt32BitsToSingle(0x7F7F0000), // largest finite bf16, ~3.3895e38
            MathF.Pow(2, -133), // smallest bf16 subnormal
            3.140625f,
            float.PositiveInfinity,
        ];

        float[] actual = ReadBack(SafetensorsDType.BF16, bits.SelectMany(BitConverter.GetBytes).ToArray(), bits.Length);

        AssertClose(expected, actual);
    }

    [Fact]
    public void BFloat16NaNStaysNaN()
    {
        float[] actual = ReadBack(SafetensorsDType.BF16, BitConverter.GetBytes((ushort)0x7FC0), 1);
        Assert.True(float.IsNaN(actual[0]));
    }

    [Fact]
    public void Float64NarrowsToFloat32()
    {
        double[] values = [1.0, -2.5, 65504.0, 0.1];
        float[] actual = ReadBack(SafetensorsDType.F64, values.SelectMany(BitConverter.GetBytes).ToArray(), values.Length);
        AssertClose([1f, -2.5f, 65504f, 0.1f], actual); // 0.1 rounds to the nearest float, same as (float)0.1
    }

    [Fact]
    public void ReadAsFloat32RejectsIntegerTensorNamingIt()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ints.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.FromInt64("ids", [1, 2], [2])], null);
        using SafetensorsFile file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<SafetensorsFormatException>(() => file.ReadAsFloat32("ids"));
        Assert.Contains("'ids'", ex.Message);
        Assert.Contains("I64", ex.Message);
    }

    [Fact]
    public void CopyAsFloat32RejectsWrongDestinationLength()
    {
        using var dir = new TempDirectory();
        string path = dir.File("f.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.FromFloat32("w", [1f, 2f, 3f], [3])], null);
        using SafetensorsFile file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<ArgumentException>(() => file.CopyAsFloat32("w", new float[2]));
        Assert.Contains("'w'", ex.Message);
    }

    [Theory]
    [InlineData(SafetensorsDType.F32, 1, 4)]
    [InlineData(SafetensorsDType.U8, 2, 1)]
    [InlineData(SafetensorsDType.I8, 3, 1)]
    [InlineData(SafetensorsDType.I16, 5, 2)]
    [InlineData(SafetensorsDType.I32, 6, 4)]
    [InlineData(SafetensorsDType.I64, 7, 8)]
    [InlineData(SafetensorsDType.BOOL, 9, 1)]
    [InlineData(SafetensorsDType.F16, 10, 2)]
    [InlineData(SafetensorsDType.F64, 11, 8)]
    [InlineData(SafetensorsDType.BF16, 16, 2)]
    public void DTypeMapsToTheOnnxElementTypeAndHasElementSize(SafetensorsDType dtype, int onnxDataType, int elementSize)
    {
        // onnxDataType: TensorProto.DataType numbers from onnx.proto3, written out here on purpose.
        Assert.Equal(onnxDataType, (int)dtype.ToElementType());
        Assert.Equal(elementSize, dtype.ElementSize());
        Assert.True(SafetensorsDTypes.TryParse(dtype.ToHeaderString(), out SafetensorsDType parsed));
        Assert.Equal(dtype, parsed);
    }

    [Fact]
    public void EveryDTypeHasItsOwnElementType()
    {
        var dtypes = Enum.GetValues<SafetensorsDType>();
        var elementTypes = dtypes.Select(d => d.ToElementType()).ToList();
        Assert.DoesNotContain(Onnx.Ir.ElementType.Undefined, elementTypes);
        Assert.Equal(dtypes.Length, elementTypes.Distinct().Count());
    }

    [Theory]
    [InlineData("f32")]
    [InlineData("1")]
    [InlineData("F8_E4M3")]
    public void TryParseIsExact(string text) => Assert.False(SafetensorsDTypes.TryParse(text, out _));

    private static float[] ReadBack(SafetensorsDType dtype, byte[] bytes, int count)
    {
        using var dir = new TempDirectory();
        string path = dir.File("c.safetensors");
        SafetensorsWriter.Write(path, [new SafetensorsTensor("x", dtype, [count], bytes)], null);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        return file.ReadAsFloat32("x");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                expected[i].Equals(actual[i]) || MathF.Abs(expected[i] - actual[i]) <= ExactTolerance,
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
