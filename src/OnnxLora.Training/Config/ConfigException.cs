// A bad training configuration, with a one-line message naming the key (and file:line when it came from YAML).
using OnnxLora.Onnx;

namespace OnnxLora.Training.Config;

public sealed class ConfigException : OnnxLoraException
{
    public ConfigException(string key, string message) : base(message) => Key = key;

    /// <summary>The offending key in dotted form ("lr", "lora.r").</summary>
    public string Key { get; }
}
