// Names of floating dtypes as users and configs spell them ("float16", "fp16", "bf16", ...).
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models;

public static class DTypes
{
    public static ElementType Parse(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" or "float" => ElementType.Float,
        "float16" or "fp16" or "f16" or "half" => ElementType.Float16,
        "bfloat16" or "bf16" => ElementType.BFloat16,
        _ => throw new ModelFormatException($"unknown dtype '{name}' (float32, float16, bfloat16)"),
    };
}
