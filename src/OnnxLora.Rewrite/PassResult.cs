// What a graph pass returns: the model (changed in place) and whether anything changed.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite;

public readonly record struct PassResult(Model Model, bool Modified);
