// The shape part of an op record: given one node whose output 0 has no shape yet, return that
// shape, or null when the node's inputs do not prove it. Rules with more to say (other outputs,
// the dims a shape tensor holds) tell the context and may still return null.
namespace OnnxLora.Autodiff.Shapes;

internal delegate SymbolicDim[]? ShapeRule(ShapeContext c);
