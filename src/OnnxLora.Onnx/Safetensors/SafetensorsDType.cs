// Element types a safetensors file can hold that this project reads and writes.
// The member names are the header spellings ("F32", "BF16", ...). FP8 and the
// unsigned 16/32/64-bit types are deliberately absent: no model we load uses them.
namespace OnnxLora.Onnx.Safetensors;

public enum SafetensorsDType
{
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}
