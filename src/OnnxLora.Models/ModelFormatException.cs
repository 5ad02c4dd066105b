// A model folder or file that cannot be used as given; the message names the file and the key
// or tensor at fault, in one line, so the CLI can print it as is.
using OnnxLora.Onnx;

namespace OnnxLora.Models;

public sealed class ModelFormatException(string message) : OnnxLoraException(message);
