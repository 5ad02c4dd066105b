// ONNX tensor element types (TensorProto.DataType numbers) and their byte sizes.
// Only the numeric types OnnxLora moves around are given sizes; the rest are named for round-trips.
namespace OnnxLora.Onnx.Ir;

public enum ElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    BFloat16 = 16,
}

public static class ElementTypeExtensions
{
    public static int SizeInBytes(this ElementType t) => t switch
    {
        ElementType.Float or ElementType.Int32 or ElementType.UInt32 => 4,
        ElementType.Int64 or ElementType.UInt64 or ElementType.Double => 8,
        ElementType.Float16 or ElementType.BFloat16 or ElementType.Int16 or ElementType.UInt16 => 2,
        ElementType.UInt8 or ElementType.Int8 or ElementType.Bool => 1,
        _ => throw new NotSupportedException($"element type {t} has no fixed size"),
    };

    public static bool IsFloating(this ElementType t) =>
        t is ElementType.Float or ElementType.Float16 or ElementType.BFloat16 or ElementType.Double;

    public static string OnnxName(this ElementType t) => t switch
    {
        ElementType.Float => "float32",
        ElementType.Float16 => "float16",
        ElementType.BFloat16 => "bfloat16",
        ElementType.Int64 => "int64",
        ElementType.Int32 => "int32",
        _ => t.ToString().ToLowerInvariant(),
    };
}
