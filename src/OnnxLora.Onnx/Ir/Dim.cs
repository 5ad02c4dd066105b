// One dimension of a declared shape: a fixed size, a named symbol ("batch"), or unknown.
namespace OnnxLora.Onnx.Ir;

public readonly record struct Dim(long? Value, string? Symbol)
{
    public static implicit operator Dim(long v) => new(v, null);

    public static implicit operator Dim(string s) => new(null, s);

    public static Dim Unknown => new(null, null);

    public override string ToString() => Value?.ToString() ?? Symbol ?? "?";
}
