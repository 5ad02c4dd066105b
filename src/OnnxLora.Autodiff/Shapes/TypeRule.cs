// The element-type part of an op record: the type of output `output` of a node, given the types
// of other values (typeOf answers null when unknown). Null when the rule cannot say for sure.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Shapes;

internal delegate ElementType? TypeRule(Node node, int output, Func<string, ElementType?> typeOf);
