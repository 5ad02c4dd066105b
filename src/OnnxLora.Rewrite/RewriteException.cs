// A pass that cannot do its job on this graph; the message names the node or tensor at fault.
using OnnxLora.Onnx;

namespace OnnxLora.Rewrite;

public sealed class RewriteException(string message) : OnnxLoraException(message);
