// A tensor whose bytes are produced on demand while the file is written, so a model
// larger than RAM can be saved. WriteData must write exactly product(Shape) * element
// size bytes to the stream it is given; the writer checks this and fails otherwise.
namespace OnnxLora.Onnx.Safetensors;

public sealed record SafetensorsStreamedTensor(string Name, SafetensorsDType DType, long[] Shape, Action<Stream> WriteData)
{
    /// <summary>Bytes WriteData must produce.</summary>
    public long Length => SafetensorsShape.ByteLength(Shape, DType)
        ?? throw new ArgumentException($"tensor '{Name}': shape {SafetensorsShape.Format(Shape)} is negative or overflows");
}
