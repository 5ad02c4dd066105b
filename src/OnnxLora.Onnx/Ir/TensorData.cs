// Where an initializer's bytes live: in managed memory, or as a slice of a memory-mapped file.
// The IR never forces external bytes into memory; writers stream them and readers take spans.
namespace OnnxLora.Onnx.Ir;

public abstract class TensorData
{
    public abstract long Length { get; }

    public abstract ReadOnlySpan<byte> Span { get; }

    public static TensorData FromBytes(byte[] bytes) => new InMemoryTensorData(bytes);

    public static TensorData FromFile(string path, long offset, long length) =>
        new ExternalTensorData(path, offset, length);

    public static TensorData FromGenerator(long length, Action<Stream> write) => new GeneratedTensorData(length, write);
}
