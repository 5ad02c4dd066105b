// A named constant tensor of a graph: element type, dims and where its bytes live.
// Conversion helpers read small tensors as typed arrays; big weights should be read as spans.
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Ir;

public sealed class Initializer
{
    public Initializer(string name, ElementType type, long[] dims, TensorData data)
    {
        long expected = ElementCount(dims) * type.SizeInBytes();
        if (data.Length != expected)
        {
            throw new InvalidDataException(
                $"initializer '{name}': {data.Length} bytes of data for {type.OnnxName()} [{string.Join(",", dims)}] (expected {expected})");
        }
        Name = name;
        Type = type;
        Dims = dims;
        Data = data;
    }

    public string Name { get; set; }

    public ElementType Type { get; }

    public long[] Dims { get; }

    public TensorData Data { get; }

    /// <summary>Free-form metadata copied from the TensorProto (doc string etc.) for round-trips.</summary>
    public Proto.TensorProto? Extra { get; init; }

    public long ElementCountValue => ElementCount(Dims);

    public static long ElementCount(long[] dims)
    {
        long n = 1;
        foreach (var d in dims)
        {
            n *= d;
        }
        return n;
    }

    public static Initializer FromFloats(string name, float[] values, params long[] dims) =>
        new(name, ElementType.Float, dims, TensorData.FromBytes(MemoryMarshal.AsBytes<float>(values).ToArray()));

    public static Initializer FromInt64s(string name, long[] values, params long[] dims) =>
        new(name, ElementType.Int64, dims, TensorData.FromBytes(MemoryMarshal.AsBytes<long>(values).ToArray()));

    /// <summary>Reads the tensor as float32, widening float16/bfloat16/double.</summary>
    public float[] ToFloats()
    {
        var span = Data.Span;
        var result = new float[ElementCountValue];
        ElementConversion.ToFloat32(Type, span, result);
        return result;
    }

    /// <summary>Reads the tensor as int64, widening int32.</summary>
    public long[] ToInt64s()
    {
        if (!ElementConversion.CanReadAsInt64(Type))
        {
            throw new InvalidDataException($"initializer '{Name}' is {Type.OnnxName()}, not an integer tensor");
        }
        var result = new long[ElementCountValue];
        ElementConversion.ToInt64(Type, Data.Span, result);
        return result;
    }
}
