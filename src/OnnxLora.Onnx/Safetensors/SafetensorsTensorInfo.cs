// Where one tensor lives: dtype, shape and its absolute byte range in a file.
// Offset is from the start of the file (not of the data buffer), so it can be
// handed straight to an ONNX external-data reference.
namespace OnnxLora.Onnx.Safetensors;

public sealed record SafetensorsTensorInfo(
    string Name,
    SafetensorsDType DType,
    long[] Shape,
    long Offset,
    long Length,
    string FilePath)
{
    /// <summary>Number of elements (product of Shape; 1 for a scalar).</summary>
    public long ElementCount => SafetensorsShape.ElementCount(Shape);
}
