// The importer streams each weight a block at a time: a matrix larger than one block, transposed or not,
// with a row count that is not a multiple of the tile, comes out exactly as a whole-matrix conversion would.
using OnnxLora.Models.Import;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models.Tests;

public sealed class HfWeightStreamingTests
{
    private sealed class MemorySource(string name, long[] shape, float[] values) : IWeightSource
    {
        public int Reads { get; private set; }

        public bool Contains(string n) => n == name;

        public long[] Shape(string n) => shape;

        public ElementType ElementType(string n) => Onnx.Ir.ElementType.Float;

        public void ReadFloat32(string n, long offset, Span<float> destination)
        {
            Reads++;
            values.AsSpan((int)offset, destination.Length).CopyTo(destination);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatrixLargerThanABlockStreamsExactly(bool transpose)
    {
        const int rows = 5003, cols = 4000; // 20M values > one block; rows not a multiple of the 32-row tile
        Assert.True((long)rows * cols > HfWeightMapping.BlockValues);
        var values = new float[rows * cols];
        var rng = new Random(5);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)rng.NextDouble();
        }
        var source = new MemorySource("w", [rows, cols], values);
        using var stream = new MemoryStream();
        new HfWeightMapping("w", [rows, cols], transpose).WriteTo(source, ElementType.Float, stream);

        var written = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(stream.ToArray()).ToArray();
        Assert.Equal(values.Length, written.Length);
        for (int r = 0; r < rows; r += 97)
        {
            for (int c = 0; c < cols; c += 89)
            {
                float expected = values[r * cols + c];
                float actual = transpose ? written[c * rows + r] : written[r * cols + c];
                Assert.True(expected == actual, $"[{r},{c}]: {actual} instead of {expected}");
            }
        }
        // every value written once: an order-independent, exact checksum of the bit patterns
        Assert.Equal(values.Sum(v => (long)BitConverter.SingleToInt32Bits(v)), written.Sum(v => (long)BitConverter.SingleToInt32Bits(v)));
    }
}
