// Initializer bytes produced on demand by a callback (e.g. a weight transposed while it is
// streamed from a checkpoint into the side file). Writers call WriteTo once; nothing is cached.
namespace OnnxLora.Onnx.Ir;

public sealed class GeneratedTensorData(long length, Action<Stream> write) : TensorData
{
    public override long Length { get; } = length;

    /// <summary>Materialises the bytes (small tensors and tests only; writers use <see cref="WriteTo"/>).</summary>
    public override ReadOnlySpan<byte> Span
    {
        get
        {
            using var ms = new MemoryStream(checked((int)Length));
            WriteTo(ms);
            return ms.ToArray();
        }
    }

    public void WriteTo(Stream destination)
    {
        long before = destination.CanSeek ? destination.Position : -1;
        write(destination);
        if (before >= 0 && destination.Position - before != Length)
        {
            throw new InvalidDataException($"generated tensor wrote {destination.Position - before} bytes, expected {Length}");
        }
    }
}
