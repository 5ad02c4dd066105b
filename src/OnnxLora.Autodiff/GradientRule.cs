// The signature of an op record's gradient rule (OpRegistry): given a node's context, return one
// gradient per node input (null where not required or not differentiable). No broadcasting here.
namespace OnnxLora.Autodiff;

public delegate string?[] GradientRule(GradientContext g);
