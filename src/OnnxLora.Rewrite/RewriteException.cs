// A pass that cannot do its job on this graph; the message names the node or tensor at fault.
namespace OnnxLora.Rewrite;

public sealed class RewriteException(string message) : Exception(message);
