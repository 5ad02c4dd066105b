// Initializer bytes held in managed memory (small constants, trained adapters).
namespace OnnxLora.Onnx.Ir;

public sealed class InMemoryTensorData(byte[] bytes) : TensorData
{
    public byte[] Bytes { get; } = bytes;

    public override long Length => Bytes.LongLength;

    public override ReadOnlySpan<byte> Span => Bytes;
}
