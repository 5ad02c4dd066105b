// Thrown when a safetensors file or shard index is malformed. The message is one line
// that starts with the file name and, where one is to blame, the tensor:
// "model.safetensors: tensor 'x': data_offsets [0, 12) exceed buffer length 8".
namespace OnnxLora.Onnx.Safetensors;

public sealed class SafetensorsFormatException : OnnxLoraException
{
    public SafetensorsFormatException(string message)
        : base(message)
    {
    }

    public SafetensorsFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public SafetensorsFormatException(string filePath, string? tensorName, string detail, Exception? innerException = null)
        : base(Compose(filePath, tensorName, detail), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>The offending file, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The offending tensor, when one is to blame.</summary>
    public string? TensorName { get; }

    private static string Compose(string filePath, string? tensorName, string detail) =>
        tensorName is null
            ? $"{Path.GetFileName(filePath)}: {detail}"
            : $"{Path.GetFileName(filePath)}: tensor '{tensorName}': {detail}";
}
