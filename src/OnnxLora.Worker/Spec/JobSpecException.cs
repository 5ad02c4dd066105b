// A job spec the API refuses, with the field at fault ("config.lr", "model") and a one-line reason (400).
using OnnxLora.Onnx;

namespace OnnxLora.Worker.Spec;

public sealed class JobSpecException(string field, string message) : OnnxLoraException(message)
{
    public string Field { get; } = field;
}
