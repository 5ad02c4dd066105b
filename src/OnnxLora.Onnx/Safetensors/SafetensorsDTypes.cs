// Facts about each SafetensorsDType: element size, header spelling and the matching
// ONNX TensorProto.DataType number. Pure lookups; no parsing of whole headers here.
namespace OnnxLora.Onnx.Safetensors;

public static class SafetensorsDTypes
{
    // ONNX TensorProto.DataType values (onnx.proto3).
    private const int OnnxFloat = 1;
    private const int OnnxUint8 = 2;
    private const int OnnxInt8 = 3;
    private const int OnnxInt16 = 5;
    private const int OnnxInt32 = 6;
    private const int OnnxInt64 = 7;
    private const int OnnxBool = 9;
    private const int OnnxFloat16 = 10;
    private const int OnnxDouble = 11;
    private const int OnnxBfloat16 = 16;

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>The ONNX TensorProto.DataType number for this dtype.</summary>
    public static int ToOnnxDataType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => OnnxFloat,
        SafetensorsDType.U8 => OnnxUint8,
        SafetensorsDType.I8 => OnnxInt8,
        SafetensorsDType.I16 => OnnxInt16,
        SafetensorsDType.I32 => OnnxInt32,
        SafetensorsDType.I64 => OnnxInt64,
        SafetensorsDType.BOOL => OnnxBool,
        SafetensorsDType.F16 => OnnxFloat16,
        SafetensorsDType.F64 => OnnxDouble,
        SafetensorsDType.BF16 => OnnxBfloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>The safetensors dtype for an ONNX TensorProto.DataType number.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The ONNX type has no safetensors counterpart here.</exception>
    public static SafetensorsDType FromOnnxDataType(int onnxDataType) => onnxDataType switch
    {
        OnnxFloat => SafetensorsDType.F32,
        OnnxUint8 => SafetensorsDType.U8,
        OnnxInt8 => SafetensorsDType.I8,
        OnnxInt16 => SafetensorsDType.I16,
        OnnxInt32 => SafetensorsDType.I32,
        OnnxInt64 => SafetensorsDType.I64,
        OnnxBool => SafetensorsDType.BOOL,
        OnnxFloat16 => SafetensorsDType.F16,
        OnnxDouble => SafetensorsDType.F64,
        OnnxBfloat16 => SafetensorsDType.BF16,
        _ => throw new ArgumentOutOfRangeException(
            nameof(onnxDataType), onnxDataType, $"ONNX data type {onnxDataType} has no safetensors dtype"),
    };

    /// <summary>Parses a header spelling such as "BF16"; exact and case-sensitive, as the format is.</summary>
    public static bool TryParse(string? text, out SafetensorsDType dtype)
    {
        // Not Enum.TryParse: that would also accept "1" or "f32".
        switch (text)
        {
            case "F32": dtype = SafetensorsDType.F32; return true;
            case "F16": dtype = SafetensorsDType.F16; return true;
            case "BF16": dtype = SafetensorsDType.BF16; return true;
            case "F64": dtype = SafetensorsDType.F64; return true;
            case "I64": dtype = SafetensorsDType.I64; return true;
            case "I32": dtype = SafetensorsDType.I32; return true;
            case "I16": dtype = SafetensorsDType.I16; return true;
            case "I8": dtype = SafetensorsDType.I8; return true;
            case "U8": dtype = SafetensorsDType.U8; return true;
            case "BOOL": dtype = SafetensorsDType.BOOL; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>The header spelling, e.g. "BF16".</summary>
    public static string ToHeaderString(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.I64 => "I64",
        SafetensorsDType.I32 => "I32",
        SafetensorsDType.I16 => "I16",
        SafetensorsDType.I8 => "I8",
        SafetensorsDType.U8 => "U8",
        SafetensorsDType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };
}
