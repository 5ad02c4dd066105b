// An in-memory tensor to write: name, dtype, shape and its little-endian bytes.
// The From* helpers copy managed arrays into bytes; for data larger than RAM use
// SafetensorsStreamedTensor instead.
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Safetensors;

public sealed record SafetensorsTensor(string Name, SafetensorsDType DType, long[] Shape, ReadOnlyMemory<byte> Data)
{
    public static SafetensorsTensor FromFloat32(string name, float[] data, long[] shape) =>
        new(name, SafetensorsDType.F32, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    public static SafetensorsTensor FromInt64(string name, long[] data, long[] shape) =>
        new(name, SafetensorsDType.I64, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
}
