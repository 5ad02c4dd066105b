// Initializer bytes that stay in a file (ONNX external data or a safetensors shard), read through a memory map.
namespace OnnxLora.Onnx.Ir;

public sealed class ExternalTensorData(string path, long offset, long length) : TensorData
{
    public string FilePath { get; } = System.IO.Path.GetFullPath(path);

    public long Offset { get; } = offset;

    public override long Length { get; } = length;

    public override ReadOnlySpan<byte> Span => MappedFile.Open(FilePath).Slice(Offset, Length);
}
