// Facts about each SafetensorsDType, from one table: its header spelling and the ONNX ElementType
// holding the same bits. Element sizes and conversions come from ElementType / ElementConversion;
// no ONNX data-type number is declared here. Pure lookups; no parsing of whole headers here.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Safetensors;

public static class SafetensorsDTypes
{
    // The header spelling is the member name (the format is exact and case-sensitive).
    private static readonly Dictionary<SafetensorsDType, ElementType> s_elementType = new()
    {
        [SafetensorsDType.F32] = ElementType.Float,
        [SafetensorsDType.F16] = ElementType.Float16,
        [SafetensorsDType.BF16] = ElementType.BFloat16,
        [SafetensorsDType.F64] = ElementType.Double,
        [SafetensorsDType.I64] = ElementType.Int64,
        [SafetensorsDType.I32] = ElementType.Int32,
        [SafetensorsDType.I16] = ElementType.Int16,
        [SafetensorsDType.I8] = ElementType.Int8,
        [SafetensorsDType.U8] = ElementType.UInt8,
        [SafetensorsDType.BOOL] = ElementType.Bool,
    };

    private static readonly Dictionary<string, SafetensorsDType> s_byHeader =
        s_elementType.Keys.ToDictionary(d => d.ToString(), StringComparer.Ordinal);

    /// <summary>The ONNX element type with the same bit layout.</summary>
    public static ElementType ToElementType(this SafetensorsDType dtype) =>
        s_elementType.TryGetValue(dtype, out var t) ? t
            : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype");

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype.ToElementType().SizeInBytes();

    /// <summary>Parses a header spelling such as "BF16"; exact and case-sensitive, as the format is.</summary>
    public static bool TryParse(string? text, out SafetensorsDType dtype) =>
        // Not Enum.TryParse: that would also accept "1" or "f32".
        s_byHeader.TryGetValue(text ?? "", out dtype);

    /// <summary>The header spelling, e.g. "BF16".</summary>
    public static string ToHeaderString(this SafetensorsDType dtype) =>
        s_elementType.ContainsKey(dtype) ? dtype.ToString()
            : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype");
}
