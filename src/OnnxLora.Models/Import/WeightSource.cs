// What the importer needs from a checkpoint: names, shapes, dtypes and float32 reads of a block
// of one tensor at a time. Implemented over safetensors; a test can implement it in memory.
namespace OnnxLora.Models.Import;

public interface IWeightSource
{
    bool Contains(string name);

    long[] Shape(string name);

    /// <summary>The stored element type as an ONNX type ("float32", "float16", "bfloat16").</summary>
    Onnx.Ir.ElementType ElementType(string name);

    /// <summary>Copies elements [offset, offset + destination.Length) of one tensor (row-major) as float32.</summary>
    void ReadFloat32(string name, long offset, Span<float> destination);
}
